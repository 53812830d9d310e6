import type { ByteWriter } from "hyparquet-writer";
import type { ColumnChunk, OffsetIndex, ParquetColumn } from "./parquet-schema.js";
import { encodeDataPage, encodeDictionaryPage, type EncodedPage, type PageValues } from "./parquet-page.js";

/**
 * One column of the row group being written: values go into a page buffer (typed arrays,
 * non-null values packed, one definition level per row), and each full page is encoded and
 * compressed at once. So what a row group holds is its compressed pages (a few bytes per
 * row) plus one page of raw values per column, not the group's values: memory no longer
 * grows with the row-group size. The pages wait in memory until the group ends because a
 * column chunk's pages are contiguous in the file; writeChunk() then appends them.
 *
 *   int       → DELTA_BINARY_PACKED INT64 from numbers (integers checked: never a float)
 *   epoch_ns  → DELTA_BINARY_PACKED INT64 from BigInt64Array (decimal strings, exact)
 *   float     → PLAIN DOUBLE; NaN and ±Infinity become null
 *   string    → RLE_DICTIONARY (a dictionary per chunk), or PLAIN where the column says so;
 *               json and unforced strings: dictionary when the chunk's first page shows it
 *               halves the bytes (hyparquet-writer's own rule), else PLAIN
 */

/** one dictionary index, or a plain string, per non-null value of the page */
type Mode = "dictionary" | "plain" | "undecided";

const GROW_FROM = 1024;

export class ColumnChunkBuilder {
  /** rows in the page being filled, and how many of them have a value */
  private n = 0;
  private k = 0;
  private capacity: number;
  private num: Float64Array | null = null;
  private big: BigInt64Array | null = null;
  private str: string[] | null = null;
  private defined: Uint8Array | null = null;
  // the chunk so far
  private pages: EncodedPage[] = [];
  private chunkRows = 0;
  private nulls = 0;
  private min: number | bigint | undefined;
  private max: number | bigint | undefined;
  private mode: Mode;
  private dictionary = new Map<string, number>();
  private scratchIndexes: Int32Array | null = null;

  constructor(
    readonly col: ParquetColumn,
    private readonly pageRows: number,
    private readonly label: string,
  ) {
    this.capacity = Math.min(pageRows, GROW_FROM);
    this.mode = col.kind === "string" || col.kind === "json" ? (col.encoding === "RLE_DICTIONARY" ? "dictionary" : col.encoding === "PLAIN" ? "plain" : "undecided") : "plain";
    this.allocate(this.capacity);
  }

  get rows(): number {
    return this.chunkRows + this.n;
  }

  push(v: unknown): void {
    if (this.n === this.capacity) this.grow();
    const { kind } = this.col;
    if (v == null || (kind === "float" && !Number.isFinite(v as number))) {
      if (!this.defined) throw new Error(`${this.label}: null in a required column`);
      this.defined[this.n++] = 0;
      this.nulls++;
    } else {
      const k = this.k++;
      if (kind === "int") {
        if (!Number.isInteger(v)) throw new Error(`${this.label}: ${String(v)} is not an integer`);
        this.num![k] = v as number;
        this.observe(v as number);
      } else if (kind === "float") {
        this.num![k] = v as number;
        this.observe(v as number);
      } else if (kind === "epoch_ns") {
        const b = BigInt(v as string);
        this.big![k] = b;
        this.observe(b);
      } else this.str![k] = v as string;
      if (this.defined) this.defined[this.n] = 1;
      this.n++;
    }
    if (this.n === this.pageRows) this.endPage();
  }

  /**
   * Appends the chunk (dictionary page first, then the data pages) to `out` and starts the
   * next chunk; returns its footer entry and its offset index (more than one page).
   */
  writeChunk(out: ByteWriter): { chunk: ColumnChunk; offsetIndex?: OffsetIndex } {
    if (this.n > 0) this.endPage();
    const start = out.offset;
    let uncompressed = 0;
    let dictionaryOffset: bigint | undefined;
    const dict = this.mode === "dictionary";
    if (dict) {
      const page = encodeDictionaryPage([...this.dictionary.keys()]);
      dictionaryOffset = BigInt(out.offset);
      out.appendBytes(page.bytes);
      uncompressed += page.uncompressedBytes;
    }
    const dataOffset = BigInt(out.offset);
    const locations: OffsetIndex["page_locations"] = [];
    let firstRow = 0;
    for (const page of this.pages) {
      locations.push({ offset: BigInt(out.offset), compressed_page_size: page.bytes.length, first_row_index: BigInt(firstRow) });
      out.appendBytes(page.bytes);
      uncompressed += page.uncompressedBytes;
      firstRow += page.rows;
    }
    const encoding = this.pageEncoding();
    const stats = this.col.kind !== "string" && this.col.kind !== "json";
    const chunk: ColumnChunk = {
      file_offset: BigInt(start),
      meta_data: {
        type: this.col.element.type!,
        encodings: dict ? ["PLAIN", "RLE_DICTIONARY"] : [encoding],
        path_in_schema: [this.col.name],
        codec: "SNAPPY",
        num_values: BigInt(this.chunkRows),
        total_compressed_size: BigInt(out.offset - start),
        total_uncompressed_size: BigInt(uncompressed),
        data_page_offset: dataOffset,
        dictionary_page_offset: dictionaryOffset,
        // min/max of ids, enum labels and JSON text prune nothing and cost a string compare per value
        statistics: stats ? this.statistics() : undefined,
        encoding_stats: [
          ...(dict ? [{ page_type: "DICTIONARY_PAGE" as const, encoding: "PLAIN" as const, count: 1 }] : []),
          { page_type: "DATA_PAGE_V2" as const, encoding, count: this.pages.length },
        ],
      },
    };
    const offsetIndex = locations.length > 1 ? { page_locations: locations } : undefined;
    this.resetChunk();
    return { chunk, offsetIndex };
  }

  private observe(v: number | bigint): void {
    if (this.min === undefined || v < this.min) this.min = v;
    if (this.max === undefined || v > this.max) this.max = v;
  }

  private statistics() {
    let { min, max } = this;
    // signed zero as the Parquet spec orders it (and hyparquet-writer writes it): min -0, max +0
    if (min === 0) min = -0;
    if (max === 0) max = 0;
    return { min_value: min, max_value: max, null_count: BigInt(this.nulls), nan_count: this.col.kind === "float" ? 0n : undefined };
  }

  private pageEncoding() {
    const { kind } = this.col;
    if (kind === "int" || kind === "epoch_ns") return "DELTA_BINARY_PACKED" as const;
    return this.mode === "dictionary" ? ("RLE_DICTIONARY" as const) : ("PLAIN" as const);
  }

  private endPage(): void {
    const { kind } = this.col;
    const k = this.k;
    let values: PageValues;
    if (kind === "int") values = { encoding: "DELTA_BINARY_PACKED", values: this.num!.subarray(0, k) };
    else if (kind === "epoch_ns") values = { encoding: "DELTA_BINARY_PACKED", values: this.big!.subarray(0, k) };
    else if (kind === "float") values = { encoding: "PLAIN", type: "DOUBLE", values: this.num!.subarray(0, k) };
    else {
      const strings = this.str!.slice(0, k);
      if (this.mode === "undecided") this.mode = dictionaryHalves(strings) ? "dictionary" : "plain";
      values = this.mode === "dictionary" ? { encoding: "RLE_DICTIONARY", values: this.indexesOf(strings) } : { encoding: "PLAIN", type: "BYTE_ARRAY", values: strings };
      this.str!.fill("", 0, k); // let the page's strings go
    }
    this.pages.push(encodeDataPage(this.n, this.defined ? this.defined.subarray(0, this.n) : null, values));
    this.chunkRows += this.n;
    this.n = 0;
    this.k = 0;
  }

  private indexesOf(strings: readonly string[]): Int32Array {
    if (!this.scratchIndexes || this.scratchIndexes.length < strings.length) this.scratchIndexes = new Int32Array(this.pageRows);
    const out = this.scratchIndexes.subarray(0, strings.length);
    const dict = this.dictionary;
    for (let i = 0; i < strings.length; i++) {
      const s = strings[i];
      let index = dict.get(s);
      if (index === undefined) dict.set(s, (index = dict.size));
      out[i] = index;
    }
    return out;
  }

  private resetChunk(): void {
    this.pages = [];
    this.chunkRows = 0;
    this.nulls = 0;
    this.min = this.max = undefined;
    this.dictionary = new Map();
    if (this.col.kind === "json" || (this.col.kind === "string" && this.col.encoding === undefined)) this.mode = "undecided";
  }

  private allocate(cap: number): void {
    const { kind, nullable } = this.col;
    const old = { num: this.num, big: this.big, str: this.str, defined: this.defined };
    if (kind === "int" || kind === "float") (this.num = new Float64Array(cap)).set(old.num ?? []);
    else if (kind === "epoch_ns") (this.big = new BigInt64Array(cap)).set(old.big ?? []);
    else {
      this.str = old.str ?? [];
      for (let i = this.str.length; i < cap; i++) this.str.push("");
    }
    if (nullable) (this.defined = new Uint8Array(cap)).set(old.defined ?? []);
  }

  /** Page buffers start small and double up to a page: a table of a few rows holds little. */
  private grow(): void {
    this.capacity = Math.min(this.pageRows, this.capacity * 2);
    this.allocate(this.capacity);
  }
}

/**
 * hyparquet-writer's test on the first page of a chunk: a dictionary (its strings plus a
 * 4-byte length each) and bit-packed indexes at most half the PLAIN bytes.
 */
function dictionaryHalves(strings: readonly string[]): boolean {
  if (strings.length === 0) return false;
  const distinct = new Set(strings);
  let plain = 0;
  for (const s of strings) plain += 4 + s.length;
  let dict = 0;
  for (const s of distinct) dict += 4 + s.length;
  const indexBytes = Math.ceil((strings.length * Math.ceil(Math.log2(distinct.size || 1))) / 8);
  return 2 * (dict + indexBytes) <= plain;
}
