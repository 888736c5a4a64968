// Layout: what a stored sample means, independent of the configuration's order.
//
// A Sample names its device by an index into the catalog (fast, and enough in memory). The
// catalog only grows while the process runs: a device added, or one whose profile or asset a
// reload changed, gets a new entry, and the old entry keeps naming the samples taken before. On disk that index is not enough: a spool written before an outage is
// replayed by a process whose configuration may list the devices in another order, may have
// added or removed some, or may use a profile with other field names. So every spool segment
// records the id of the layout it was written under, and the layout itself (device names and the
// field names of each assembly, in value order) is kept once per spool as a small text file named
// by that id. On replay each record is translated to the current configuration by device *name*;
// a record whose device is gone, or whose assembly's fields changed, cannot be attributed and
// goes to the dead-letter file with the reason (never under another device's name).
//
//   const std::string text = layout::encode(catalog);        // at start-up, once
//   const std::uint64_t id = layout::id_of(text);            // stored in each segment header
//   layout::Translation t(layout::decode(old_text), catalog);
//   if (auto why = t.map(sample)) { /* dead letter with *why */ }   // else sample.device is current
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/catalog.hpp"
#include "pipeline/sample.hpp"

namespace pm500::layout {

// "pm500-layout 1\n" then per device "device\t<name>\n", "asset\t<asset>\n" and, per described
// assembly, "assembly\t<instance>\t<field>,<field>,...\n". Names are the configuration's (no tabs
// or newlines: the configuration rejects them in device names and assets; field names are
// identifiers). Layouts written before the asset was recorded have no asset lines.
std::string encode(const Catalog& catalog);
// 64-bit FNV-1a of the text, never 0 (0 means "no layout recorded": a segment of format 1).
std::uint64_t id_of(std::string_view text);
// The devices, assets and fields of an encoded layout (the site is not part of a layout: it is
// a tag of the current configuration; an asset not recorded decodes as ""). nullopt when the
// text is not a layout.
std::optional<Catalog> decode(std::string_view text);

// Old index -> current index: the entry with the same name, fields and asset (the same index
// when the catalog only grew since: a reload that changes a device's profile or asset appends
// an entry for it, and the old entry keeps naming the samples taken before), else the newest
// entry of that name, with an identical field list per assembly.
class Translation {
 public:
  Translation(const Catalog& from, const Catalog& to);
  // Rewrites sample.device to the current index. Returns why it cannot be attributed instead
  // (the sample is then left as it was, with its old index).
  std::optional<std::string> map(Sample& sample) const;
  // The old device list (for naming samples that cannot be mapped).
  const Catalog& from() const noexcept { return from_; }

 private:
  struct Entry {
    std::int64_t to = -1;                      // current index, -1: no device of that name
    std::array<bool, 9> same_fields{};          // per assembly 100..108
  };
  Catalog from_;
  std::vector<Entry> entries_;
};

}  // namespace pm500::layout
