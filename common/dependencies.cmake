# The packages the project builds on. Each is looked for on the system first (Debian and Ubuntu
# ship them all); only when one is missing is it downloaded, at a pinned version, with FetchContent.
include(FetchContent)
find_package(Threads REQUIRED)

# Standalone Asio. Debian's libasio-dev has headers only and no CMake package, so the target is
# made here. Another Asio's headers: -DASIO_INCLUDE_DIR=/path/to/asio/include (how the releases
# in docs/measurements/asio-versions.txt were built and tested).
find_path(ASIO_INCLUDE_DIR asio.hpp)
if(NOT ASIO_INCLUDE_DIR)
  message(STATUS "Asio not found: fetching asio 1.30.2")
  FetchContent_Declare(asio
    GIT_REPOSITORY https://github.com/chriskohlhoff/asio.git
    GIT_TAG asio-1-30-2
    GIT_SHALLOW TRUE)
  FetchContent_MakeAvailable(asio)
  set(ASIO_INCLUDE_DIR ${asio_SOURCE_DIR}/asio/include CACHE PATH "" FORCE)
endif()
add_library(asio INTERFACE)
target_include_directories(asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
target_link_libraries(asio INTERFACE Threads::Threads)
# Asio before 1.27 looks for co_await on clang only through <experimental/coroutine>, so that
# clang's C++20 coroutines go unseen and asio::awaitable is not declared; newer ones find them.
target_compile_definitions(asio INTERFACE $<$<CXX_COMPILER_ID:Clang,AppleClang>:ASIO_HAS_CO_AWAIT=1>)
add_library(asio::asio ALIAS asio)

# cpp-httplib, for the synchronous client. Debian builds it as a shared library with pkg-config.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(HTTPLIB QUIET IMPORTED_TARGET GLOBAL cpp-httplib)
endif()
if(HTTPLIB_FOUND)
  add_library(httplib::httplib ALIAS PkgConfig::HTTPLIB)
else()
  message(STATUS "cpp-httplib not found: fetching v0.14.3")
  FetchContent_Declare(httplib
    GIT_REPOSITORY https://github.com/yhirose/cpp-httplib.git
    GIT_TAG v0.14.3
    GIT_SHALLOW TRUE)
  FetchContent_MakeAvailable(httplib)
endif()

# GoogleTest.
set(GTEST_SOURCE_DIR "" CACHE PATH
  "Build GoogleTest from these sources instead (the macos-like preset: /usr/src/googletest, for libc++)")
if(BUILD_TESTING AND GTEST_SOURCE_DIR)
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
  add_subdirectory(${GTEST_SOURCE_DIR} ${PROJECT_BINARY_DIR}/googletest EXCLUDE_FROM_ALL SYSTEM)
  include(GoogleTest)
elseif(BUILD_TESTING)
  find_package(GTest QUIET)
  if(NOT GTest_FOUND)
    message(STATUS "GoogleTest not found: fetching v1.14.0")
    FetchContent_Declare(googletest
      GIT_REPOSITORY https://github.com/google/googletest.git
      GIT_TAG v1.14.0
      GIT_SHALLOW TRUE)
    set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
    FetchContent_MakeAvailable(googletest)
  endif()
  include(GoogleTest)
endif()
