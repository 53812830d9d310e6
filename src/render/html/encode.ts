/**
 * Data goes into the page as JSON inside <script type="application/json">, never as
 * markup or code: request ids come from clients (vLLM takes X-Request-Id) and may hold
 * `</script>`, quotes or U+2028. Escaping <, >, & and the two line separators as \uXXXX
 * keeps the JSON identical for JSON.parse while no byte sequence can end the element.
 * Typed arrays travel as base64 of their little-endian bytes: 8 (or 4) bytes a number
 * instead of ~18 characters of decimal text, and NaN survives.
 */
const TYPE_TAGS = [
  [Float64Array, "f64"],
  [Float32Array, "f32"],
  [Uint32Array, "u32"],
  [Int32Array, "i32"],
  [Uint8Array, "u8"],
] as const;

function typedTag(v: unknown): string | null {
  for (const [ctor, tag] of TYPE_TAGS) if (v instanceof ctor) return tag;
  return null;
}

/** JSON for a script element: typed arrays as {"$t": tag, "b64": …}, markup characters escaped. */
export function scriptJson(value: unknown): string {
  const json = JSON.stringify(value, function (this: unknown, _key, v: unknown) {
    const tag = typedTag(v);
    if (tag === null) return v;
    const a = v as Float64Array;
    return { $t: tag, n: a.length, b64: Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64") };
  });
  return escapeScriptJson(json);
}

export function escapeScriptJson(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** text for HTML element content and attribute values */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
