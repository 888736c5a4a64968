# cmake -DIN=page/index.html -DOUT=page_data.cpp -P embed.cmake
# Writes page_html() returning the file's bytes. A byte array, not a raw string literal, so no
# text in the page (a ")" followed by a delimiter) can end the literal early.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_length)
if(hex_length EQUAL 0)
  message(FATAL_ERROR "${IN} is empty")
endif()
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# 16 bytes per line keeps the generated file readable in a diff or a debugger.
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n    " bytes "${bytes}")
file(WRITE "${OUT}.tmp" "// Generated from ${IN} by embed.cmake; edit the page, not this file.
#include <string_view>

namespace pm500::status {
namespace {
constexpr unsigned char kPage[] = {
    ${bytes}
};
}  // namespace

std::string_view page_html() { return {reinterpret_cast<const char*>(kPage), sizeof kPage}; }

}  // namespace pm500::status
")
# Only replace the output when it changed, so an unchanged page does not rebuild the server.
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
