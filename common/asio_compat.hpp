// The Asio names that moved between the releases people have. as_tuple and deferred left
// asio::experimental in Asio 1.24 (Debian 12 ships 1.22, Ubuntu 24.04 1.28), and the experimental
// headers that had kept them were removed in 1.33. Code that uses either names them through
// `compat::`, which is whichever namespace this Asio has them in.
#pragma once

#include <asio/version.hpp>

#if ASIO_VERSION >= 102400
#include <asio/as_tuple.hpp>
#include <asio/deferred.hpp>
namespace compat = asio;
#else
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/deferred.hpp>
namespace compat = asio::experimental;
#endif
