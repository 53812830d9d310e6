// esbuild replaces __VSCHED_VERSION__ from package.json; tests run from source and see the fallback.
declare const __VSCHED_VERSION__: string | undefined;
export const VERSION: string = typeof __VSCHED_VERSION__ === "string" ? __VSCHED_VERSION__ : "0.0.0-dev";
