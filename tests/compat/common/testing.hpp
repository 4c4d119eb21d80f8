// Forwards to the test support's new home, for common/session.test.cpp until its include says
// "tests/testing.hpp"; then this folder goes.
#pragma once
#include "tests/testing.hpp"
