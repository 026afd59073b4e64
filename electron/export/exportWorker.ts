import { Catalog } from '../catalog/catalog.ts';
import { serveRequests } from '../workerThreads.ts';
import { exportCsv, type ExportWorkerReply, type ExportWorkerRequest } from './catalogExport.ts';

// Exports on a thread of their own, reading the catalog through their own connection.
serveRequests<ExportWorkerRequest, ExportWorkerReply>(async (request) => {
  const catalog = new Catalog(request.catalogFile);
  try {
    return { type: 'exported', rows: await exportCsv(catalog, request.file, request.options) };
  } catch (err) {
    return { type: 'failed', reason: (err as Error).message };
  } finally {
    catalog.close();
  }
}, { serial: true });
