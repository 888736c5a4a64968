#include "sinks/file/probe.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pm500::sinks {
namespace fs = std::filesystem;
namespace {

using R = SinkProbeResult::Result;

std::string mib(unsigned long long bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

std::string permission_fix(int err, const fs::path& dir) {
  if (err == EACCES || err == EPERM)
    return "; give the gateway's user write access to " + dir.string() + " (e.g. chown pm500 " + dir.string() +
           ") or set path elsewhere";
  if (err == EROFS) return "; the file system is read-only: set path (or [gateway] state_dir) to a writable volume";
  if (err == ENOSPC) return "; the disk is full: free space";
  return "";
}

}  // namespace

fs::path file_sink_path(const FileSinkConfig& cfg, const std::string& state_dir) {
  fs::path p = cfg.path;
  if (!p.empty() && p.is_relative()) p = fs::path(state_dir) / "sinks" / "file" / p;
  return p;
}

std::vector<SinkProbeResult> probe_file_sink(const FileSinkConfig& cfg, const std::string& state_dir) {
  std::vector<SinkProbeResult> out;
  const fs::path p = file_sink_path(cfg, state_dir);
  if (p.empty()) {
    out.push_back({R::fail, "path", "sinks.file.path is empty: name the file to write", ""});
    return out;
  }
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    // The sink creates missing folders at its first write; creating them here would leave
    // traces of a check behind, so only the nearest existing ancestor is examined.
    fs::path base = dir;
    while (!base.empty() && base != base.root_path() && !fs::exists(base, ec)) base = base.parent_path();
    if (base.empty()) base = ".";
    if (!fs::is_directory(base, ec)) {
      out.push_back({R::fail, "directory " + dir.string(),
                     "cannot be created: " + base.string() + " exists but is not a directory; set path elsewhere", ""});
      return out;
    }
    if (::access(base.c_str(), W_OK | X_OK) != 0) {
      const int err = errno;
      out.push_back({R::fail, "directory " + dir.string(),
                     "cannot be created under " + base.string() + ": " + std::strerror(err) + permission_fix(err, base),
                     ""});
      return out;
    }
    out.push_back({R::ok, "directory " + dir.string(),
                   "does not exist yet; the sink creates it under " + base.string() + ", which is writable", ""});
    return out;
  }
  if (!fs::is_directory(dir, ec)) {
    out.push_back({R::fail, "directory " + dir.string(), "exists but is not a directory; set path elsewhere", ""});
    return out;
  }
  std::string tmpl = (dir / ".pm500-check-XXXXXX").string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) {
    const int err = errno;
    out.push_back({R::fail, "directory " + dir.string(),
                   std::string("cannot create a file in it: ") + std::strerror(err) + permission_fix(err, dir), ""});
    return out;
  }
  ::close(fd);
  ::unlink(tmpl.c_str());
  std::string space;
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) == 0) {
    const unsigned long long avail = static_cast<unsigned long long>(vfs.f_bavail) * vfs.f_frsize;
    space = ", " + mib(avail) + " free";
    // Rotation keeps up to max_files + 1 files of max_mb each.
    const unsigned long long needed = static_cast<unsigned long long>(cfg.max_mb) << 20;
    if (avail < needed) {
      out.push_back({R::warn, "directory " + dir.string(),
                     "writable, but only " + mib(avail) + " free, less than one file of max_mb = " +
                         std::to_string(cfg.max_mb) + " MiB: free space or lower max_mb",
                     ""});
      return out;
    }
  }
  out.push_back({R::ok, "directory " + dir.string(), "writable (created and removed a test file" + space + ")", ""});
  if (fs::exists(p, ec)) {
    const int afd = ::open(p.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (afd < 0) {
      const int err = errno;
      out.push_back(
          {R::fail, "file " + p.string(),
           std::string("exists but cannot be opened for appending: ") + std::strerror(err) + permission_fix(err, p),
           ""});
    } else {
      ::close(afd);
      out.push_back(
          {R::ok, "file " + p.string(), "appendable (" + std::to_string(fs::file_size(p, ec)) + " bytes)", ""});
    }
  }
  return out;
}

}  // namespace pm500::sinks
