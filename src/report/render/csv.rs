//! CSV: a header, then one row per group and day (no totals rows: a spreadsheet
//! sums them, and a totals row would be summed twice).

use super::{day_cells, day_header, RenderError};
use crate::report::Report;

pub fn csv(report: &Report) -> Result<String, RenderError> {
    let mut out = ::csv::Writer::from_writer(Vec::new());
    out.write_record(day_header())?;
    for d in &report.days {
        out.write_record(day_cells(d))?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| ::csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
