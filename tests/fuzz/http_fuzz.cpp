// libFuzzer target: request framing on the shared listener. The input is a byte stream a
// client sends on one keep-alive connection; it goes through Boost.Beast's request parser
// configured as the session configures it (header_limit, a body limit, the read buffer
// bounded to max_header + one read: what keeps chunk extensions and trailers from growing
// without end) and through the checks the session applies before routing
// (engine/http/request_head.hpp). The stream is handed over in pieces whose sizes come from
// the input, so every split of a request line, a header, a chunk-size line or a trailer
// across reads is tried. Findings: a crash, a sanitizer report, the buffer growing past its
// bound, a routed path not starting with '/', or an accepted body larger than its limit.
// Built and run by run_fuzz.sh.

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "http/request_head.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

constexpr std::size_t kMaxHeader = 1024;  // small, so the limits are reached often
constexpr std::size_t kReadSize = 512;
constexpr std::uint64_t kMaxBody = 4096;

// A SyncReadStream handing out the input in pieces of 1..`step` bytes.
class Pieces {
 public:
  using executor_type = asio::any_io_executor;
  Pieces(std::string_view data, std::size_t step) : data_(data), step_(std::max<std::size_t>(step, 1)) {}

  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers) {
    beast::error_code ec;
    const auto n = read_some(buffers, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }
  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, beast::error_code& ec) {
    if (data_.empty()) {
      ec = asio::error::eof;
      return 0;
    }
    const std::size_t want = std::min({asio::buffer_size(buffers), data_.size(), 1 + (turn_++ * 7) % step_});
    const std::size_t n = asio::buffer_copy(buffers, asio::buffer(data_.data(), want));
    data_.remove_prefix(n);
    return n;
  }

 private:
  std::string_view data_;
  std::size_t step_;
  std::size_t turn_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  Pieces stream(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), data[0] % 64 + 1);
  beast::flat_buffer buffer(kMaxHeader + kReadSize);
  for (int request = 0; request < 8; ++request) {  // keep-alive: requests one after the other
    std::optional<bhttp::request_parser<bhttp::string_body>> parser;
    parser.emplace();
    parser->header_limit(static_cast<std::uint32_t>(kMaxHeader));
    parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    beast::error_code ec;
    bhttp::read_header(stream, buffer, *parser, ec);
    if (buffer.size() > kMaxHeader + kReadSize) std::abort();
    if (ec) return 0;  // 431, 400 or the client left: the connection ends
    const auto& req = parser->get();
    const auto target = switchyard::http::split_target(std::string_view(req.target().data(), req.target().size()));
    if (!target.path.empty() && target.path.front() != '/' && target.path.front() != '*') {
      // Beast accepts any non-empty origin-form token; the route table then finds nothing.
      // What split_target returns must at least be a part of the target.
      if (target.path.data() < req.target().data() ||
          target.path.data() + target.path.size() > req.target().data() + req.target().size()) {
        std::abort();
      }
    }
    if (auto te = req.find(bhttp::field::transfer_encoding); te != req.end()) {
      if (switchyard::http::check_transfer_encoding(std::string_view(te->value().data(), te->value().size()),
                                                    parser->chunked())) {
        return 0;  // refused: the connection ends
      }
    }
    if (parser->content_length() && *parser->content_length() > kMaxBody) return 0;  // 413
    parser->body_limit(kMaxBody);
    bhttp::read(stream, buffer, *parser, ec);
    if (buffer.size() > kMaxHeader + kReadSize) std::abort();
    if (ec) return 0;
    if (parser->get().body().size() > kMaxBody) std::abort();
    if (!parser->keep_alive()) return 0;
  }
  return 0;
}
