/**
 * Composition root of dataset-api: the dataset service as functions/shared/dataset-service.ts builds
 * it (shared with the dataset-recorder), and its configuration.
 */
export { buildDatasetService, configFromEnv } from '../shared/dataset-service.js';
