import { Catalog } from '../catalog/catalog.ts';
import { serveRequests } from '../workerThreads.ts';
import { exportCsvCounted, type ExportWorkerReply, type ExportWorkerRequest } from './catalogExport.ts';

// Exports on a thread of their own, reading the catalog through their own connection.
serveRequests<ExportWorkerRequest, ExportWorkerReply>(
  async (request) => {
    const catalog = new Catalog(request.catalogFile);
    try {
      return { type: 'exported', ...(await exportCsvCounted(catalog, request.file, request.options)) };
    } catch (err) {
      return { type: 'failed', reason: (err as Error).message };
    } finally {
      catalog.close();
    }
  },
  { serial: true },
);
