//! CSV: a header, then one row per group and day (no totals rows: a spreadsheet
//! sums them, and a totals row would be summed twice). It starts with a UTF-8
//! byte-order mark: without one Excel reads the Chinese names as mojibake.

use super::{day_cells, day_header, Lang, RenderError};
use crate::report::Report;

/// U+FEFF, which Excel takes to mean "this file is UTF-8".
pub const BOM: &str = "\u{feff}";

pub fn csv(report: &Report, lang: Lang) -> Result<String, RenderError> {
    let mut out = ::csv::Writer::from_writer(Vec::new());
    out.write_record(day_header(lang))?;
    for d in &report.days {
        out.write_record(day_cells(d))?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| ::csv::Error::from(e.into_error()))?;
    Ok(format!("{BOM}{}", String::from_utf8_lossy(&bytes)))
}
