// A thin RAII layer over the SQLite C API that reports errors as
// absl::Status: a connection and prepared statements.
//
//   STACHE_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(path));
//   STACHE_ASSIGN_OR_RETURN(SqliteStatement select, db.Prepare("SELECT ..."));
//   select.Bind(1, key);
//   STACHE_ASSIGN_OR_RETURN(bool has_row, select.Step());
#ifndef STACHE_STORAGE_INTERNAL_SQLITE_H_
#define STACHE_STORAGE_INTERNAL_SQLITE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct sqlite3;
struct sqlite3_stmt;

namespace stache::storage::internal {

// A prepared statement. Not thread-safe (nor is its connection).
class SqliteStatement final {
 public:
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  ~SqliteStatement();

  // Parameters are 1-based; text is copied.
  void Bind(int index, absl::string_view text);
  void Bind(int index, int64_t value);
  // True when a row is ready, false when done.
  absl::StatusOr<bool> Step();
  // Runs to completion, ignoring rows.
  absl::Status Run();
  // Clears bindings and rewinds, for reuse.
  void Reset();

  std::string ColumnText(int index) const;
  int64_t ColumnInt64(int index) const;

 private:
  friend class SqliteDb;
  SqliteStatement(sqlite3* db, sqlite3_stmt* statement);

  sqlite3* db_;
  sqlite3_stmt* statement_;
};

// One connection. Not thread-safe: guard it with a mutex.
class SqliteDb final {
 public:
  // Opens or creates the database file.
  static absl::StatusOr<SqliteDb> Open(const std::string& path);
  SqliteDb(SqliteDb&& other) noexcept;
  SqliteDb& operator=(SqliteDb&&) = delete;
  ~SqliteDb();

  absl::Status Execute(const std::string& sql);
  absl::StatusOr<SqliteStatement> Prepare(const std::string& sql);

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

}  // namespace stache::storage::internal

#endif  // STACHE_STORAGE_INTERNAL_SQLITE_H_
