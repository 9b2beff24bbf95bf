//! What both front ends draw of a loss landscape, as plain data: the plane (two parameter axes,
//! the trajectories' principal directions, or a classifier's two features), range fitting, grid
//! evaluation, shading, contour levels and lines, the runs' trails and the data points, and the
//! one palette (RGB) both front ends use.
//!
//! Nothing here knows about terminals or image files: the TUI paints a [`Surface`] and a
//! [`Scene`] into cells, the plot exporter hands the same data to plotters. So for the same view
//! (plane, ranges, levels, log scale) both show the same picture: the same grid, the same
//! shading and colours, the same contour lines, the same trails.
//!
//! ```text
//!  Session + ViewSpec ──request()──▶ Request ──compute()──▶ Grid      (NX × NY values on a plane)
//!                                                            │
//!                                  Surface::new(grid, log, levels)  (shading, levels, contour lines)
//!  Session + Basis + ViewSpec ──Scene::new()──▶ Scene               (trails, data points, minimum)
//! ```

pub mod contour;
pub mod format;
pub mod grid;
pub mod palette;
pub mod plane;
pub mod range;
pub mod scene;
pub mod shading;
pub mod surface;
pub mod view;

pub use contour::{Contour, marching_squares};
pub use format::{format_number, format_tick, format_ticks};
pub use grid::{Grid, NX, NY, PlaneRequest, Request, compute, request};
pub use palette::{Marker, Rgb};
pub use plane::{Basis, pca_basis, radius, random_basis, subsample};
pub use range::{
    Direction, Ranges, clip_polyline, clip_segment, contains, exit_point, fit_ranges, valid_range,
};
pub use scene::{Scene, Trail};
pub use shading::{LOG_EPS_FRACTION, Shading, levels, log_levels};
pub use surface::Surface;
pub use view::{DEFAULT_LEVELS, MAX_LEVELS, Plane, ViewSpec};
