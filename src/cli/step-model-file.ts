import { readJsonFile } from "../parse/json-file.js";
import { StepModelFile } from "../schema/fit.js";

/** A coefficients file written by `vsched fit --out`, for simulate and calibrate. */
export function readStepModel(file: string): StepModelFile {
  return readJsonFile(StepModelFile, file, "SIM_MODEL_INVALID", file, "write it with vsched fit --out");
}
