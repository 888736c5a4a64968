#include "status/detail/ack_request.hpp"

#include <simdjson.h>

namespace pm500::status::detail {

pm500::expected<AckRequest, std::string> parse_ack_request(std::string_view body) {
  if (body.size() > kMaxAckBody)
    return pm500::unexpected("the body is larger than " + std::to_string(kMaxAckBody) + " bytes");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(simdjson::padded_string(body)).get(doc); err)
    return pm500::unexpected(std::string("the body is not JSON: ") + simdjson::error_message(err));
  simdjson::dom::object obj;
  if (doc.get(obj) != simdjson::SUCCESS) return pm500::unexpected(std::string("the body must be a JSON object"));
  AckRequest r;
  for (auto [key, value] : obj) {
    std::string* text = key == "action" ? &r.action
                        : key == "id" ? &r.id
                        : key == "subject" ? &r.subject
                        : key == "by" ? &r.by
                        : key == "note" ? &r.note
                        : key == "evidence" ? &r.evidence
                                            : nullptr;
    if (text) {
      std::string_view s;
      if (value.get(s) != simdjson::SUCCESS)
        return pm500::unexpected("\"" + std::string(key) + "\" must be a string");
      *text = std::string(s);
    } else if (key == "minutes") {
      std::int64_t m = 0;
      if (value.get(m) != simdjson::SUCCESS) return pm500::unexpected(std::string("\"minutes\" must be an integer"));
      r.minutes = m;
    } else {
      return pm500::unexpected("unknown member \"" + std::string(key) +
                               "\": use action, id, subject, by, note, minutes, evidence");
    }
  }
  return r;
}

}  // namespace pm500::status::detail
