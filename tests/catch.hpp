#pragma once
// The one place Catch2 is included: moving to v3 changes this include and one target name.
#include <catch2/catch.hpp>
