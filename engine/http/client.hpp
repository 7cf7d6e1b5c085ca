#pragma once
// The outbound HTTP(S) client behind Context::http_client(). Beast stays in client.cpp.

#include <memory>

#include "switchyard/context.hpp"
#include "switchyard/http.hpp"

namespace switchyard::runtime {
class Io;
}

namespace switchyard::http {

/// A client whose callbacks are posted to `executor` (the component's strand). `log` gets
/// one warning when certificate verification is turned off and one error when `ca_file`
/// cannot be read (every request then fails with that error). Proxies come from
/// HTTPS_PROXY / HTTP_PROXY / NO_PROXY (either case) read at creation.
std::unique_ptr<HttpClient> make_client(runtime::Io& io, Executor& executor, Logger& log,
                                        const HttpClientOptions& options);

}  // namespace switchyard::http
