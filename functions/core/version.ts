/** Sluice's version, as written into each Parquet file's metadata and created_by. */
export const SLUICE_VERSION = "0.1.0";
