import { BindingTracker } from "./binding-tracker.js";
import { Reconstructor } from "./reconstructor.js";
import type { EngineFactory } from "./types.js";

export * from "./types.js";
/** The reconstructor, with binding_limits estimated from its decisions and filled in on the way to the sink. */
export const createEngine: EngineFactory = (header, sink, options) => {
  const binding = new BindingTracker(header, sink);
  const user = options.onDecision;
  return new Reconstructor(header, binding.sink, {
    ...options,
    onDecision: (v) => {
      binding.onDecision(v);
      user?.(v);
    },
  });
};
