#pragma once
// The binary contract between the engine and a plugin library. Plugins are C++ and share
// vtables and standard-library types with the engine, so both the SDK ABI version and the
// toolchain that built them must match; the loader refuses a library when either differs.

#include <cstdint>

namespace switchyard {

/// Bumped whenever a change to sdk/include/switchyard breaks binary compatibility.
// 5: template types, Context::replies(), AsyncTransform, FdWatch, RequestSigner.
// 6: HttpRoutes::add_websocket (a new virtual: the vtable of HttpRoutes changed) and
//    switchyard/websocket.hpp; also covers Emitter::emit_until_done, a virtual added to
//    Emitter without a bump of its own.
//    Also OptionSpec::route (OptionSpec grew a field: tables of specs changed layout).
// 7: Transform::splitting() (a new virtual: the vtable of Transform changed),
//    SplitTransform and switchyard::Events; Harness::split in switchyard/testing.hpp.
// 8: Event::raw_data (Event grew a member: its layout changed),
//    Transform::changes_payload() (a new virtual), and Result's error type as a
//    (defaulted) template parameter, which changes the mangled name of every Status.
// 9: Sink::render and Rendering (a new virtual), Context::dead_letters() and
//    DeadLetterFeed (a new virtual), Event::set_secret/secret (Event grew a member),
//    Reply::unanswered (Reply grew a member).
// 10: Context::report_health (a new virtual).
// 11: Sink::reads_payload and Emitter::payload_read (new virtuals), and events whose
//     payload is deferred (Event::payload_deferred: `data` null while raw_data() holds it).
// 12: StateStore::remembers/remember (new virtuals) and Event::remember_when_accepted
//     (Event grew a member).
inline constexpr std::uint32_t kAbiVersion = 12;

#define SWITCHYARD_STRINGIFY_IMPL(x) #x
#define SWITCHYARD_STRINGIFY(x) SWITCHYARD_STRINGIFY_IMPL(x)

#if defined(__clang__)
#define SWITCHYARD_COMPILER "clang-" SWITCHYARD_STRINGIFY(__clang_major__)
#elif defined(__GNUC__)
#define SWITCHYARD_COMPILER "gcc-" SWITCHYARD_STRINGIFY(__GNUC__)
#else
#define SWITCHYARD_COMPILER "unknown"
#endif

#if defined(_GLIBCXX_USE_CXX11_ABI) && _GLIBCXX_USE_CXX11_ABI
#define SWITCHYARD_STDLIB "libstdc++-cxx11"
#elif defined(_LIBCPP_VERSION)
#define SWITCHYARD_STDLIB "libc++"
#else
#define SWITCHYARD_STDLIB "libstdc++-old"
#endif

/// Identifies the compiler family/major version and standard library a library was built with.
inline constexpr const char* kToolchainTag = SWITCHYARD_COMPILER ";" SWITCHYARD_STDLIB;

}  // namespace switchyard
