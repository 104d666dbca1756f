// spdlog's implementation, compiled once into memfd-warden when it links its libraries statically
// (WARDEN_STATIC_DEPS): Debian ships spdlog as a shared library and as headers. Every other file
// sees spdlog as a compiled library (SPDLOG_COMPILED_LIB), so none of them compiles the
// implementation again: header-only, each file that logs took twice as long to build.
#include <spdlog/common-inl.h>
#include <spdlog/details/backtracer-inl.h>
#include <spdlog/details/log_msg-inl.h>
#include <spdlog/details/log_msg_buffer-inl.h>
#include <spdlog/details/os-inl.h>
#include <spdlog/details/periodic_worker-inl.h>
#include <spdlog/details/registry-inl.h>
#include <spdlog/logger-inl.h>
#include <spdlog/pattern_formatter-inl.h>
#include <spdlog/sinks/ansicolor_sink-inl.h>
#include <spdlog/sinks/sink-inl.h>
#include <spdlog/sinks/stdout_color_sinks-inl.h>
#include <spdlog/spdlog-inl.h>

// The templates that spdlog's own build instantiates for the sinks memfd-warden uses: the
// registry's default logger (stdout, locked) and memfd-warden's (stderr, single-threaded).
template class spdlog::sinks::ansicolor_sink<spdlog::details::console_mutex>;
template class spdlog::sinks::ansicolor_sink<spdlog::details::console_nullmutex>;
template class spdlog::sinks::ansicolor_stdout_sink<spdlog::details::console_mutex>;
template class spdlog::sinks::ansicolor_stderr_sink<spdlog::details::console_nullmutex>;
template std::shared_ptr<spdlog::logger> spdlog::stderr_color_st<spdlog::synchronous_factory>(
    const std::string& logger_name, spdlog::color_mode mode);
