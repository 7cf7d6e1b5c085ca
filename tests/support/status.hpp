#pragma once
// A Status as gtest sees it: ASSERT_TRUE(test::ok(registry.load(file))) prints the error.

#include <gtest/gtest.h>

#include "switchyard/result.hpp"

namespace switchyard::test {

inline ::testing::AssertionResult ok(const Status& status) {
  if (status) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << status.error().message;
}

}  // namespace switchyard::test
