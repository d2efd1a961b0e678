#include <gtest/gtest.h>

#include "units.hpp"

using moesim::Dimension;
using moesim::parse_quantity;

TEST(Units, ParsesEveryDimensionIntoSiUnits) {
  EXPECT_DOUBLE_EQ(*parse_quantity("900GB/s", Dimension::bandwidth), 900e9);
  EXPECT_DOUBLE_EQ(*parse_quantity("400Gb/s", Dimension::bandwidth), 50e9);
  EXPECT_DOUBLE_EQ(*parse_quantity("2us", Dimension::time), 2e-6);
  EXPECT_DOUBLE_EQ(*parse_quantity("1.5 ms", Dimension::time), 1.5e-3);
  EXPECT_DOUBLE_EQ(*parse_quantity("80GiB", Dimension::bytes), 80.0 * 1024 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(*parse_quantity("141GB", Dimension::bytes), 141e9);
  EXPECT_DOUBLE_EQ(*parse_quantity("700W", Dimension::power), 700);
  EXPECT_DOUBLE_EQ(*parse_quantity("$2/h", Dimension::price_per_hour), 2);
  EXPECT_DOUBLE_EQ(*parse_quantity("$0.5/min", Dimension::price_per_hour), 30);
  EXPECT_DOUBLE_EQ(*parse_quantity("989TFLOP/s", Dimension::flop_rate), 989e12);
  EXPECT_DOUBLE_EQ(*parse_quantity("$0.36/kWh", Dimension::energy_price), 0.36 / 3.6e6);
}

TEST(Units, UnknownUnitNamesItselfAndTheValidOnes) {
  auto r = parse_quantity("900GB/h", Dimension::bandwidth);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("'GB/h'"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().hint.find("GB/s"), std::string::npos);
  EXPECT_NE(r.error().hint.find("Gb/s"), std::string::npos);
}

TEST(Units, BareNumberGetsAHintWithAUnit) {
  auto r = parse_quantity("50", Dimension::bandwidth);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no unit"), std::string::npos);
  EXPECT_NE(r.error().hint.find("write \"50GB/s\""), std::string::npos) << r.error().hint;
}

TEST(Units, RejectsNegativeEmptyAndNonNumbers) {
  EXPECT_FALSE(parse_quantity("-3W", Dimension::power));
  EXPECT_FALSE(parse_quantity("", Dimension::time));
  EXPECT_FALSE(parse_quantity("fast", Dimension::time));
  EXPECT_FALSE(parse_quantity("2/h", Dimension::price_per_hour));  // no '$'
}

TEST(Units, FormatsReadably) {
  EXPECT_EQ(moesim::format_quantity(3.35e12, Dimension::bandwidth), "3.35 TB/s");
  EXPECT_EQ(moesim::format_quantity(0.0124, Dimension::time), "12.4 ms");
  EXPECT_EQ(moesim::format_quantity(80.0 * (1 << 30), Dimension::bytes), "80 GiB");
}
