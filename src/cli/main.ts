import { buildProgram } from "./program.js";
import { runMain } from "./run.js";

// A reader that goes away (`vsched fit --help | head`) ends the output, not the process with a
// stack trace: data writes already resolve on EPIPE (io.ts); this covers commander's help text.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

await runMain(buildProgram());
