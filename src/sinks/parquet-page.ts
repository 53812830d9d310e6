import { ByteWriter } from "hyparquet-writer";
import { writePageHeader } from "hyparquet-writer/src/datapage.js";
import { deltaBinaryPack } from "hyparquet-writer/src/delta.js";
import { writeRleBitPackedHybrid } from "hyparquet-writer/src/encoding.js";
import { writePlain } from "hyparquet-writer/src/plain.js";
import { snappyCompress } from "hyparquet-writer/src/snappy.js";

/**
 * One Parquet data page (v2, snappy) from a page's worth of values, as hyparquet-writer's
 * writeDataPageV2 writes it, but from what the column builder holds: the non-null values
 * packed in a typed array and the rows' definition levels, so no array of the page's
 * length with nulls in it is built, and the scratch buffers are reused from page to page.
 */

/** What a page's values are written as. */
export type PageValues =
  | { encoding: "DELTA_BINARY_PACKED"; values: Float64Array | BigInt64Array }
  | { encoding: "PLAIN"; type: "DOUBLE"; values: Float64Array }
  | { encoding: "PLAIN"; type: "BYTE_ARRAY"; values: readonly string[] }
  | { encoding: "RLE_DICTIONARY"; values: Int32Array };

export interface EncodedPage {
  /** header, levels and compressed values, ready to append to the file */
  bytes: Uint8Array;
  rows: number;
  uncompressedBytes: number;
}

// scratch writers, reused: encoding is synchronous, one page at a time
const levelScratch = new ByteWriter(1 << 12);
const valueScratch = new ByteWriter(1 << 16);
const headerScratch = new ByteWriter(256);
const utf8 = new TextEncoder();

function reset(w: ByteWriter): ByteWriter {
  w.index = 0;
  w.offset = 0;
  return w;
}

/**
 * @param rows rows in the page
 * @param defined 1 per row whose value is present; null for a required column (no levels)
 */
export function encodeDataPage(rows: number, defined: Uint8Array | null, page: PageValues): EncodedPage {
  const levels = reset(levelScratch);
  const definitionBytes = defined ? writeRleBitPackedHybrid(levels, defined, 1) : 0;
  const numValues = page.values.length;
  const data = reset(valueScratch);
  if (page.encoding === "DELTA_BINARY_PACKED") deltaBinaryPack(data, page.values, "INT64");
  else if (page.encoding === "RLE_DICTIONARY") {
    let max = 0;
    for (const v of page.values) if (v > max) max = v;
    const bitWidth = Math.ceil(Math.log2(max + 1));
    data.appendUint8(bitWidth);
    writeRleBitPackedHybrid(data, page.values, bitWidth);
  } else if (page.type === "BYTE_ARRAY") writeUtf8Plain(data, page.values);
  else writePlain(data, page.values, "DOUBLE", undefined);
  const compressed = snappyCompress(data.getBytes());
  const header = reset(headerScratch);
  writePageHeader(header, {
    type: "DATA_PAGE_V2",
    uncompressed_page_size: levels.offset + data.offset,
    compressed_page_size: levels.offset + compressed.length,
    data_page_header_v2: {
      num_values: rows,
      num_nulls: rows - numValues,
      num_rows: rows,
      encoding: page.encoding,
      definition_levels_byte_length: definitionBytes,
      repetition_levels_byte_length: 0,
      is_compressed: true,
    },
  });
  const bytes = new Uint8Array(header.offset + levels.offset + compressed.length);
  bytes.set(header.getBytes(), 0);
  bytes.set(levels.getBytes(), header.offset);
  bytes.set(compressed, header.offset + levels.offset);
  return { bytes, rows, uncompressedBytes: header.offset + levels.offset + data.offset };
}

/** A dictionary page (PLAIN strings), written before the chunk's data pages. */
export function encodeDictionaryPage(values: readonly string[]): EncodedPage {
  const data = reset(valueScratch);
  writeUtf8Plain(data, values);
  const compressed = snappyCompress(data.getBytes());
  const header = reset(headerScratch);
  writePageHeader(header, {
    type: "DICTIONARY_PAGE",
    uncompressed_page_size: data.offset,
    compressed_page_size: compressed.length,
    dictionary_page_header: { num_values: values.length, encoding: "PLAIN" },
  });
  const bytes = new Uint8Array(header.offset + compressed.length);
  bytes.set(header.getBytes(), 0);
  bytes.set(compressed, header.offset);
  return { bytes, rows: 0, uncompressedBytes: header.offset + data.offset };
}

/** PLAIN BYTE_ARRAY: a 4-byte length, then the UTF-8 bytes, encoded straight into the page. */
function writeUtf8Plain(w: ByteWriter, values: readonly string[]): void {
  for (const s of values) {
    w.ensure(4 + 3 * s.length); // UTF-8 takes at most 3 bytes per UTF-16 unit
    const { written } = utf8.encodeInto(s, new Uint8Array(w.buffer, w.index + 4, 3 * s.length));
    w.view.setUint32(w.index, written, true);
    w.index += 4 + written;
    w.offset += 4 + written;
  }
}
