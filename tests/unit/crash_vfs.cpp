#include "tests/unit/crash_vfs.hpp"

#include <fstream>
#include <random>
#include <stdexcept>
#include <system_error>

namespace vermas::test {

namespace fs = std::filesystem;

// What SQLite allocates per open file (szOsFile): the shim's part, then the real file's.
struct CrashVfs::File {
  sqlite3_file base;  // first, so SQLite's sqlite3_file* is a File*
  CrashVfs* vfs;
  FileState* state;   // null for files that need no durability (temp files)
  sqlite3_file* real;
};

// SQLite allocates with 8-byte alignment; the real file starts on such a boundary too.
const int CrashVfs::kRealOffset = static_cast<int>((sizeof(File) + 7) & ~std::size_t{7});

namespace {

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  std::string bytes(static_cast<std::size_t>(in.tellg()), '\0');
  in.seekg(0);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

}  // namespace

const sqlite3_io_methods CrashVfs::kIoMethods = {
    2,  // no xFetch/xUnfetch: SQLite then never reads through mmap, bypassing the count
    &CrashVfs::x_close,
    &CrashVfs::x_read,
    &CrashVfs::x_write,
    &CrashVfs::x_truncate,
    &CrashVfs::x_sync,
    &CrashVfs::x_file_size,
    &CrashVfs::x_lock,
    &CrashVfs::x_unlock,
    &CrashVfs::x_check_reserved_lock,
    &CrashVfs::x_file_control,
    &CrashVfs::x_sector_size,
    &CrashVfs::x_device_characteristics,
    &CrashVfs::x_shm_map,
    &CrashVfs::x_shm_lock,
    &CrashVfs::x_shm_barrier,
    &CrashVfs::x_shm_unmap,
    nullptr,
    nullptr,
};

CrashVfs::CrashVfs(const char* name) : base_(sqlite3_vfs_find(nullptr)), name_(name) {
  if (!base_) throw std::runtime_error("crash vfs: no default VFS to wrap");
  vfs_.iVersion = 2;  // no xSetSystemCall & co: nothing here overrides system calls
  vfs_.szOsFile = kRealOffset + base_->szOsFile;
  vfs_.mxPathname = base_->mxPathname;
  vfs_.zName = name_.c_str();
  vfs_.pAppData = this;
  vfs_.xOpen = &x_open;
  vfs_.xDelete = &x_delete;
  vfs_.xAccess = &x_access;
  vfs_.xFullPathname = &x_full_pathname;
  vfs_.xDlOpen = &x_dl_open;
  vfs_.xDlError = &x_dl_error;
  vfs_.xDlSym = &x_dl_sym;
  vfs_.xDlClose = &x_dl_close;
  vfs_.xRandomness = &x_randomness;
  vfs_.xSleep = &x_sleep;
  vfs_.xCurrentTime = &x_current_time;
  vfs_.xGetLastError = &x_get_last_error;
  vfs_.xCurrentTimeInt64 = &x_current_time_int64;
  if (int rc = sqlite3_vfs_register(&vfs_, 0); rc != SQLITE_OK)
    throw std::runtime_error(std::string("crash vfs: register: ") + sqlite3_errstr(rc));
}

CrashVfs::~CrashVfs() { sqlite3_vfs_unregister(&vfs_); }

CrashVfs::AsDefault::AsDefault(CrashVfs& vfs) : previous_(sqlite3_vfs_find(nullptr)) {
  sqlite3_vfs_register(&vfs.vfs_, 1);
}

// Re-registering moves the previous default back to the head of the list.
CrashVfs::AsDefault::~AsDefault() { sqlite3_vfs_register(previous_, 1); }

void CrashVfs::reset() {
  for (const auto& [path, st] : files_)
    if (st.open) throw std::logic_error("crash vfs: reset while " + path + " is open");
  files_.clear();
  calls_ = cut_at_ = syncs_ = 0;
}

bool CrashVfs::allow() {
  ++calls_;
  return cut_at_ == 0 || calls_ < cut_at_;
}

void CrashVfs::apply(std::string& image, const Op& op) {
  const auto at = static_cast<std::size_t>(op.offset);
  if (op.truncate) {
    image.resize(at);
    return;
  }
  if (image.size() < at + op.bytes.size()) image.resize(at + op.bytes.size(), '\0');
  image.replace(at, op.bytes.size(), op.bytes);
}

CrashVfs::CutStats CrashVfs::power_cut(Survivors survivors, std::uint64_t seed, const fs::path& into) const {
  CutStats stats;
  std::mt19937_64 rng(seed);
  for (const auto& [path, st] : files_) {
    if (st.open) throw std::logic_error("crash vfs: power cut while " + path + " is open");
    const fs::path target = into.empty() ? fs::path(path) : into / fs::path(path).filename();
    std::string image = st.durable;
    for (const Op& op : st.unsynced) {
      ++stats.unsynced;
      // One draw per write in every mode: a seed names the same subset whatever the mode.
      const bool coin = (rng() & 1) != 0;
      if (survivors == Survivors::all || (survivors == Survivors::random_subset && coin)) {
        apply(image, op);
        ++stats.kept;
      }
    }
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    out.write(image.data(), static_cast<std::streamsize>(image.size()));
    if (!out.flush()) throw std::runtime_error("crash vfs: cannot write " + target.string());
    ++stats.files;
    if (st.main_db) {
      std::error_code ec;
      fs::remove(target.string() + "-shm", ec);
    }
  }
  return stats;
}

// --- sqlite3_vfs -----------------------------------------------------------------------

namespace {
CrashVfs* self_of(sqlite3_vfs* vfs) { return static_cast<CrashVfs*>(vfs->pAppData); }
}  // namespace

int CrashVfs::x_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  CrashVfs* self = self_of(vfs);
  File* file = reinterpret_cast<File*>(f);
  file->base.pMethods = nullptr;  // SQLite calls xClose only when this is set
  file->vfs = self;
  file->state = nullptr;
  file->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kRealOffset);
  file->real->pMethods = nullptr;
  if (!self->allow()) return SQLITE_CANTOPEN;
  const int rc = self->base_->xOpen(self->base_, name, file->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (file->real->pMethods) file->real->pMethods->xClose(file->real);
    return rc;
  }
  if (name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_WAL))) {
    auto [it, added] = self->files_.try_emplace(name);
    FileState& st = it->second;
    // Whatever was on disk before the shim saw the file counts as durable.
    if (added) st.durable = read_whole(name);
    st.main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
    ++st.open;
    file->state = &st;
  }
  file->base.pMethods = &kIoMethods;
  return SQLITE_OK;
}

int CrashVfs::x_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  CrashVfs* self = self_of(vfs);
  if (!self->allow()) return SQLITE_IOERR_DELETE;
  const int rc = self->base_->xDelete(self->base_, name, sync_dir);
  // Durable at once: directories are not modelled (see the header). SQLite closes a
  // journal or WAL before deleting it; a file still open keeps its state.
  if (rc == SQLITE_OK)
    if (auto it = self->files_.find(name); it != self->files_.end() && it->second.open == 0) self->files_.erase(it);
  return rc;
}

int CrashVfs::x_access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  CrashVfs* self = self_of(vfs);
  if (!self->allow()) return SQLITE_IOERR_ACCESS;
  return self->base_->xAccess(self->base_, name, flags, out);
}

int CrashVfs::x_full_pathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  sqlite3_vfs* base = self_of(vfs)->base_;
  return base->xFullPathname(base, name, n, out);
}
void* CrashVfs::x_dl_open(sqlite3_vfs* vfs, const char* name) {
  sqlite3_vfs* base = self_of(vfs)->base_;
  return base->xDlOpen(base, name);
}
void CrashVfs::x_dl_error(sqlite3_vfs* vfs, int n, char* out) {
  sqlite3_vfs* base = self_of(vfs)->base_;
  base->xDlError(base, n, out);
}
void (*CrashVfs::x_dl_sym(sqlite3_vfs* vfs, void* lib, const char* sym))(void) {
  sqlite3_vfs* base = self_of(vfs)->base_;
  return base->xDlSym(base, lib, sym);
}
void CrashVfs::x_dl_close(sqlite3_vfs* vfs, void* lib) {
  sqlite3_vfs* base = self_of(vfs)->base_;
  base->xDlClose(base, lib);
}
int CrashVfs::x_randomness(sqlite3_vfs* vfs, int n, char* out) {
  sqlite3_vfs* base = self_of(vfs)->base_;
  return base->xRandomness(base, n, out);
}
int CrashVfs::x_sleep(sqlite3_vfs* vfs, int us) {
  sqlite3_vfs* base = self_of(vfs)->base_;
  return base->xSleep(base, us);
}
int CrashVfs::x_current_time(sqlite3_vfs* vfs, double* out) {
  sqlite3_vfs* base = self_of(vfs)->base_;
  return base->xCurrentTime(base, out);
}
int CrashVfs::x_get_last_error(sqlite3_vfs* vfs, int n, char* out) {
  sqlite3_vfs* base = self_of(vfs)->base_;
  return base->xGetLastError ? base->xGetLastError(base, n, out) : 0;
}
int CrashVfs::x_current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  sqlite3_vfs* base = self_of(vfs)->base_;
  if (base->iVersion >= 2 && base->xCurrentTimeInt64) return base->xCurrentTimeInt64(base, out);
  double days = 0;
  const int rc = base->xCurrentTime(base, &days);
  *out = static_cast<sqlite3_int64>(days * 86400000.0);
  return rc;
}

// --- sqlite3_io_methods ----------------------------------------------------------------
// Calls that release something (xClose, xUnlock, shm unlock, barrier, unmap) are neither
// counted nor failed: they touch no durable state, and failing them would only leave
// locks behind in this process for the recovery that follows.

CrashVfs::File* CrashVfs::as_file(sqlite3_file* f) { return reinterpret_cast<File*>(f); }

int CrashVfs::x_close(sqlite3_file* f) {
  File* file = as_file(f);
  const int rc = file->real->pMethods->xClose(file->real);
  if (file->state) --file->state->open;
  return rc;
}

int CrashVfs::x_read(sqlite3_file* f, void* buf, int n, sqlite3_int64 offset) {
  File* file = as_file(f);
  if (!file->vfs->allow()) return SQLITE_IOERR_READ;
  return file->real->pMethods->xRead(file->real, buf, n, offset);
}

int CrashVfs::x_write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 offset) {
  File* file = as_file(f);
  if (!file->vfs->allow()) return SQLITE_IOERR_WRITE;
  const int rc = file->real->pMethods->xWrite(file->real, buf, n, offset);
  if (rc == SQLITE_OK && file->state)
    file->state->unsynced.push_back({false, offset, std::string(static_cast<const char*>(buf), static_cast<std::size_t>(n))});
  return rc;
}

int CrashVfs::x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  File* file = as_file(f);
  if (!file->vfs->allow()) return SQLITE_IOERR_TRUNCATE;
  const int rc = file->real->pMethods->xTruncate(file->real, size);
  if (rc == SQLITE_OK && file->state) file->state->unsynced.push_back({true, size, {}});
  return rc;
}

int CrashVfs::x_sync(sqlite3_file* f, int /*flags*/) {
  File* file = as_file(f);
  if (!file->vfs->allow()) return SQLITE_IOERR_FSYNC;
  ++file->vfs->syncs_;
  // The in-memory image is this test's disk; a real fsync would add time, not
  // information, so it is not passed on.
  if (FileState* st = file->state) {
    for (const Op& op : st->unsynced) apply(st->durable, op);
    st->unsynced.clear();
  }
  return SQLITE_OK;
}

int CrashVfs::x_file_size(sqlite3_file* f, sqlite3_int64* size) {
  File* file = as_file(f);
  if (!file->vfs->allow()) return SQLITE_IOERR_FSTAT;
  return file->real->pMethods->xFileSize(file->real, size);
}

int CrashVfs::x_lock(sqlite3_file* f, int level) {
  File* file = as_file(f);
  if (!file->vfs->allow()) return SQLITE_IOERR_LOCK;
  return file->real->pMethods->xLock(file->real, level);
}

int CrashVfs::x_unlock(sqlite3_file* f, int level) {
  File* file = as_file(f);
  return file->real->pMethods->xUnlock(file->real, level);
}

int CrashVfs::x_check_reserved_lock(sqlite3_file* f, int* out) {
  File* file = as_file(f);
  if (!file->vfs->allow()) return SQLITE_IOERR_CHECKRESERVEDLOCK;
  return file->real->pMethods->xCheckReservedLock(file->real, out);
}

int CrashVfs::x_file_control(sqlite3_file* f, int op, void* arg) {
  File* file = as_file(f);
  return file->real->pMethods->xFileControl(file->real, op, arg);
}

int CrashVfs::x_sector_size(sqlite3_file* f) {
  File* file = as_file(f);
  return file->real->pMethods->xSectorSize(file->real);
}

int CrashVfs::x_device_characteristics(sqlite3_file* f) {
  File* file = as_file(f);
  return file->real->pMethods->xDeviceCharacteristics(file->real);
}

// The -shm is delegated untouched: it is rebuilt from the WAL after a crash.
int CrashVfs::x_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  File* file = as_file(f);
  if (!file->vfs->allow()) return SQLITE_IOERR_SHMMAP;
  return file->real->pMethods->xShmMap(file->real, region, size, extend, out);
}

int CrashVfs::x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  File* file = as_file(f);
  if (!(flags & SQLITE_SHM_UNLOCK) && !file->vfs->allow()) return SQLITE_IOERR_SHMLOCK;
  return file->real->pMethods->xShmLock(file->real, offset, n, flags);
}

void CrashVfs::x_shm_barrier(sqlite3_file* f) {
  File* file = as_file(f);
  file->real->pMethods->xShmBarrier(file->real);
}

int CrashVfs::x_shm_unmap(sqlite3_file* f, int delete_flag) {
  File* file = as_file(f);
  return file->real->pMethods->xShmUnmap(file->real, delete_flag);
}

}  // namespace vermas::test
