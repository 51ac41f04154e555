//! The Typst `World` of one rendering: built-in templates, the user's folder
//! laid over them, the data as `data.json`, the QR code as `qr.svg`, and the
//! fonts embedded in the program. Nothing is read from the network or from
//! the system's fonts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, World};

use crate::templates;

/// The fonts shipped inside the program (Libertinus Serif, New Computer
/// Modern, DejaVu Sans Mono), loaded once.
pub(crate) struct Fonts {
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

pub(crate) static FONTS: LazyLock<Fonts> = LazyLock::new(|| {
    let fonts: Vec<Font> = typst_assets::fonts()
        .flat_map(|data| Font::iter(Bytes::new(data)))
        .collect();
    Fonts {
        book: LazyHash::new(FontBook::from_fonts(&fonts)),
        fonts,
    }
});

/// Where a file of the virtual project comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileOrigin {
    /// Generated for this rendering (`data.json`, `qr.svg`).
    Generated,
    /// A file of the user's template folder.
    User(PathBuf),
    /// A template compiled into the program.
    BuiltIn,
}

pub(crate) struct FormsWorld {
    library: Arc<LazyHash<Library>>,
    main: FileId,
    /// The user's template folder, when it may override built-ins.
    user_dir: Option<PathBuf>,
    /// Files made for this rendering, by virtual path (`/data.json`).
    generated: HashMap<String, Bytes>,
    sources: Mutex<HashMap<FileId, FileResult<Source>>>,
    files: Mutex<HashMap<FileId, FileResult<Bytes>>>,
}

impl FormsWorld {
    pub(crate) fn new(
        library: Arc<LazyHash<Library>>,
        main_file: &str,
        user_dir: Option<PathBuf>,
        generated: HashMap<String, Bytes>,
    ) -> Result<Self, String> {
        let vpath = VirtualPath::new(format!("/{main_file}")).map_err(|e| e.to_string())?;
        Ok(FormsWorld {
            library,
            main: RootedPath::new(VirtualRoot::Project, vpath).intern(),
            user_dir,
            generated,
            sources: Mutex::new(HashMap::new()),
            files: Mutex::new(HashMap::new()),
        })
    }

    /// Where the file with this id comes from, if it exists.
    pub(crate) fn origin(&self, id: FileId) -> Option<FileOrigin> {
        if !matches!(id.root(), VirtualRoot::Project) {
            return None;
        }
        let vpath = id.vpath();
        let with_slash = vpath.get_with_slash();
        if self.generated.contains_key(with_slash) {
            return Some(FileOrigin::Generated);
        }
        if let Some(path) = self.user_path(vpath)
            && path.is_file()
        {
            return Some(FileOrigin::User(path));
        }
        templates::builtin_file(vpath.get_without_slash()).map(|_| FileOrigin::BuiltIn)
    }

    /// How to show this file's name to a person.
    pub(crate) fn display_name(&self, id: FileId) -> String {
        let name = id.vpath().get_without_slash().to_owned();
        match self.origin(id) {
            Some(FileOrigin::User(path)) => path.display().to_string(),
            Some(FileOrigin::Generated) => format!("<data>/{name}"),
            Some(FileOrigin::BuiltIn) | None => format!("<built-in>/{name}"),
        }
    }

    fn user_path(&self, vpath: &VirtualPath) -> Option<PathBuf> {
        let dir = self.user_dir.as_deref()?;
        vpath.realize(dir).ok()
    }

    fn load(&self, id: FileId) -> FileResult<Bytes> {
        if !matches!(id.root(), VirtualRoot::Project) {
            return Err(FileError::Other(Some(
                "Typst packages are not available: templates must work offline; copy what you need into the template folder".into(),
            )));
        }
        let vpath = id.vpath();
        if let Some(bytes) = self.generated.get(vpath.get_with_slash()) {
            return Ok(bytes.clone());
        }
        if let Some(path) = self.user_path(vpath)
            && path.is_file()
        {
            return read_file(&path);
        }
        match templates::builtin_file(vpath.get_without_slash()) {
            Some(text) => Ok(Bytes::from_string(text)),
            None => Err(FileError::NotFound(PathBuf::from(vpath.get_with_slash()))),
        }
    }
}

fn read_file(path: &Path) -> FileResult<Bytes> {
    if path.is_dir() {
        return Err(FileError::IsDirectory);
    }
    std::fs::read(path)
        .map(Bytes::new)
        .map_err(|e| FileError::from_io(e, path))
}

impl World for FormsWorld {
    fn library(&self) -> &LazyHash<Library> {
        &self.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &FONTS.book
    }

    fn main(&self) -> FileId {
        self.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        let mut sources = self
            .sources
            .lock()
            .map_err(|_| FileError::Other(Some("source cache poisoned".into())))?;
        sources
            .entry(id)
            .or_insert_with(|| {
                let bytes = self.file(id)?;
                let text = std::str::from_utf8(bytes.as_slice())
                    .map_err(|_| FileError::InvalidUtf8)?
                    .trim_start_matches('\u{feff}')
                    .to_owned();
                Ok(Source::new(id, text))
            })
            .clone()
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        let mut files = self
            .files
            .lock()
            .map_err(|_| FileError::Other(Some("file cache poisoned".into())))?;
        files.entry(id).or_insert_with(|| self.load(id)).clone()
    }

    fn font(&self, index: usize) -> Option<Font> {
        FONTS.fonts.get(index).cloned()
    }

    fn today(&self, offset: Option<Duration>) -> Option<Datetime> {
        let now = time::OffsetDateTime::now_utc();
        let now = match offset {
            Some(offset) => now + time::Duration::seconds_f64(offset.seconds()),
            None => now,
        };
        Datetime::from_ymd(now.year(), u8::from(now.month()), now.day())
    }
}
