/** Stages the h5wasm layer and returns its asset directory (contains nodejs/node_modules/h5wasm). */
export declare function buildH5wasmLayer(): string;
