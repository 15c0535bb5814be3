// libFuzzer: the bodies serve's HTTP routes parse -- /v1/check, overrides,
// STIX bundles for /v1/indicators (and every object's validation), and
// suspect-text lines for traceback.
#include <cstdint>
#include <string>
#include <string_view>

#include "report/stix.h"
#include "serve/requests.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::string error;
  dg::CheckRequest cr;
  (void)dg::ParseCheckBody(body, &cr, &error);
  dg::OverrideBody ob;
  (void)dg::ParseOverrideBody(body, &ob, &error);
  (void)dg::ImportStix(body, &error);
  (void)dg::ValidateStixObject(body);
  // Exporting arbitrary "campaigns" must give a bundle or an error.
  (void)dg::ExportStix(body, dg::StixExportOptions{}, &error);
  return 0;
}
