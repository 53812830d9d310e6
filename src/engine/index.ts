import { Reconstructor } from "./reconstructor.js";
import type { EngineFactory } from "./types.js";

export * from "./types.js";
export const createEngine: EngineFactory = (header, sink, options) => new Reconstructor(header, sink, options);
