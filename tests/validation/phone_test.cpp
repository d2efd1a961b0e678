// llama.cpp OLMoE on a Snapdragon 8 Elite Gen 5 (Hexagon v81), case "llamacpp-olmoe-hexagon-v81"
// of data/validation/cases.json. Source: ggml-org/llama.cpp docs/backend/snapdragon/README.md
// (OLMoE-1B-7B-0125-Instruct q4_0, 212 prompt tokens, 257 generated): prefill 122.5 tokens/s,
// decode 45.69 tokens/s. Tolerance 30% (issue 5). The phone's efficiencies come from a
// different model (Llama-3.2-1B on the previous Hexagon generation), never from this case;
// assumptions and results are in docs/validation.md.
#include <gtest/gtest.h>

#include <cmath>
#include "accuracy_rows.hpp"
#include "validation_cases.hpp"

namespace {

using namespace moesim;

nlohmann::json the_case() { return test_support::validation_case("llamacpp-olmoe-hexagon-v81"); }

// The case's metrics as `moesim accuracy` predicts them (the shipped scenarios
// olmoe-1b-7b-{prefill,decode}-1xphone.json in closed form): prefill first, then decode.
sim::AccuracyRow row(std::size_t i) {
  const auto rows = test_support::predicted_rows("llamacpp-olmoe-hexagon-v81");
  return i < rows.size() ? rows[i] : sim::AccuracyRow{};
}

}  // namespace

TEST(PhoneValidation, OlmoeHexagonDecodeKnownMissMinus31Percent) {
  const auto c = the_case();
  ASSERT_EQ(c["setup"]["prompt_tokens"], 212);
  const double measured = c["value"][1].get<double>();  // decode tokens/s
  const sim::AccuracyRow r = row(1);
  ASSERT_EQ(r.published, measured);
  ASSERT_TRUE(r.predicted) << r.failure;
  const double predicted = *r.predicted;  // batch 1: one sequence's tokens/s
  RecordProperty("predicted_decode_tokens_per_s", std::to_string(predicted));
  // Known miss since every kernel of the step is counted (issue 15; docs/validation.md): -31%
  // (34.4 -> 31.5 tokens/s). The norms, rotary, casts, router and permutes each pay the phone's
  // assumed 10 us dispatch, and the 16-bit lm head (llama.cpp quantises it) stays 24% of the
  // step. The check keeps the error where it is, so a change shows; the 30% target is not met.
  EXPECT_NEAR(predicted / measured - 1, -0.31, 0.01) << "predicted " << predicted << " vs measured " << measured;
  test_support::expect_recorded_error("llamacpp-olmoe-hexagon-v81", "decode", predicted / measured - 1);
}

// Known miss (docs/validation.md, "Not yet reproduced"): moesim predicts 200 tokens/s for the
// 212-token prefill against the measured 122.5, +63% (+68% before every kernel was counted). Nothing
// was tuned to close it. The check keeps the error where it is, so a change shows; the 30% target
// is not met.
TEST(PhoneValidation, OlmoeHexagonPrefillKnownMissPlus63Percent) {
  const double measured = the_case()["value"][0].get<double>();
  const sim::AccuracyRow r = row(0);
  ASSERT_EQ(r.published, measured);
  ASSERT_TRUE(r.predicted) << r.failure;
  RecordProperty("predicted_prefill_tokens_per_s", std::to_string(*r.predicted));
  EXPECT_NEAR(*r.error(), 0.63, 0.01) << "predicted " << *r.predicted << " vs measured " << measured;
  test_support::expect_recorded_error("llamacpp-olmoe-hexagon-v81", "prefill", *r.error());
}
