#pragma once
// A SQLite VFS shim for power-cut tests, after SQLite's own crash tests (test6.c): it wraps
// the default unix VFS and models what a disk keeps when the power goes.
//
// Per database, rollback-journal and WAL file it keeps the durable image (in memory: the
// files of a test are small) and the writes and truncates issued since the file's last
// xSync; xSync folds those into the image. The real file still receives every write, as
// the page cache would, so SQLite reads back what it wrote. A cut, armed at the n-th I/O
// call, makes that call and every later one fail (SQLITE_IOERR_*, SQLITE_CANTOPEN for an
// open), as if the machine had stopped there; calls that only release something (close,
// unlock, shm unmap) are neither counted nor failed. After the connections are closed,
// power_cut() writes each file as its durable image plus none, a seeded random subset, or
// all of its unsynced writes, applied in order, and deletes the -shm (not durable state:
// SQLite rebuilds the wal-index from the WAL). The -shm itself goes through the xShm*
// methods untouched.
//
// Not modelled: directory entries (a created or deleted file is taken as durable at once,
// though a real file system needs an fsync of the directory for that), and torn writes (a
// write survives whole or not at all; the unix VFS reports POWERSAFE_OVERWRITE).
#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace vermas::test {

class CrashVfs {
 public:
  // Which unsynced writes survive a cut (all: as after kill -9, the page cache is kept).
  enum class Survivors { none, random_subset, all };

  // Wraps the current default VFS and registers the shim (not as the default) as `name`.
  explicit CrashVfs(const char* name = "vermas-crash");
  // Unregisters the shim; no connection may still use it.
  ~CrashVfs();
  CrashVfs(const CrashVfs&) = delete;
  CrashVfs& operator=(const CrashVfs&) = delete;

  // Makes the shim the default VFS for its lifetime (Store opens with the default VFS),
  // then restores the previous default.
  class AsDefault {
   public:
    explicit AsDefault(CrashVfs& vfs);
    ~AsDefault();
    AsDefault(const AsDefault&) = delete;
    AsDefault& operator=(const AsDefault&) = delete;
   private:
    sqlite3_vfs* previous_;
  };

  // Forgets every file, the call count and the cut. A file first opened after this starts
  // with its content on disk as its durable image.
  void reset();
  // Calls numbered from 1: call `n` and all after it fail (0: never).
  void cut_at(std::uint64_t n) { cut_at_ = n; }
  // I/O calls so far: reads, writes, syncs, truncates, sizes, locks, shm map and lock,
  // open, delete, access.
  std::uint64_t calls() const { return calls_; }
  bool cut() const { return cut_at_ != 0 && calls_ >= cut_at_; }
  std::uint64_t syncs() const { return syncs_; }

  struct CutStats {
    std::size_t files = 0;
    std::size_t unsynced = 0;  // writes and truncates not yet synced at the cut
    std::size_t kept = 0;      // of those, the ones applied
  };
  // Writes every file as the power cut leaves it: in place, or under `into` with the same
  // names (another outcome of the same run). Deletes the -shm there. All files must be
  // closed. Reproducible: the subset depends only on `seed` and the recorded writes.
  CutStats power_cut(Survivors survivors, std::uint64_t seed, const std::filesystem::path& into = {}) const;

 private:
  struct Op {
    bool truncate = false;
    std::int64_t offset = 0;  // truncate: the new size
    std::string bytes;
  };
  struct FileState {
    bool main_db = false;
    int open = 0;          // handles open on it
    std::string durable;   // what the disk holds for certain
    std::vector<Op> unsynced;
  };
  struct File;  // the sqlite3_file the shim hands to SQLite
  static File* as_file(sqlite3_file* f);
  static const int kRealOffset;  // where the wrapped VFS's file starts within ours
  static const sqlite3_io_methods kIoMethods;

  // Counts one call; false when the cut has happened and the call must fail.
  bool allow();
  static void apply(std::string& image, const Op& op);

  static int x_open(sqlite3_vfs*, const char*, sqlite3_file*, int, int*);
  static int x_delete(sqlite3_vfs*, const char*, int);
  static int x_access(sqlite3_vfs*, const char*, int, int*);
  static int x_full_pathname(sqlite3_vfs*, const char*, int, char*);
  static void* x_dl_open(sqlite3_vfs*, const char*);
  static void x_dl_error(sqlite3_vfs*, int, char*);
  static void (*x_dl_sym(sqlite3_vfs*, void*, const char*))(void);
  static void x_dl_close(sqlite3_vfs*, void*);
  static int x_randomness(sqlite3_vfs*, int, char*);
  static int x_sleep(sqlite3_vfs*, int);
  static int x_current_time(sqlite3_vfs*, double*);
  static int x_get_last_error(sqlite3_vfs*, int, char*);
  static int x_current_time_int64(sqlite3_vfs*, sqlite3_int64*);

  static int x_close(sqlite3_file*);
  static int x_read(sqlite3_file*, void*, int, sqlite3_int64);
  static int x_write(sqlite3_file*, const void*, int, sqlite3_int64);
  static int x_truncate(sqlite3_file*, sqlite3_int64);
  static int x_sync(sqlite3_file*, int);
  static int x_file_size(sqlite3_file*, sqlite3_int64*);
  static int x_lock(sqlite3_file*, int);
  static int x_unlock(sqlite3_file*, int);
  static int x_check_reserved_lock(sqlite3_file*, int*);
  static int x_file_control(sqlite3_file*, int, void*);
  static int x_sector_size(sqlite3_file*);
  static int x_device_characteristics(sqlite3_file*);
  static int x_shm_map(sqlite3_file*, int, int, int, void volatile**);
  static int x_shm_lock(sqlite3_file*, int, int, int);
  static void x_shm_barrier(sqlite3_file*);
  static int x_shm_unmap(sqlite3_file*, int);

  sqlite3_vfs vfs_{};
  sqlite3_vfs* base_;
  std::string name_;
  std::map<std::string, FileState> files_;  // by full path
  std::uint64_t calls_ = 0;
  std::uint64_t cut_at_ = 0;
  std::uint64_t syncs_ = 0;
};

}  // namespace vermas::test
