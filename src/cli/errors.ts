export { EXIT, InputError, UsageError } from "../core/errors.js";
