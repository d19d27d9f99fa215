// Every ACS bit in the datapath, in both states: flipping the bit through a config write must
// change where the TLP goes or what its verdict is (PCIe 6.12).
#include "fabric_fixture.h"

using namespace pciesim;
using namespace pciesim::test;

namespace {
constexpr uint16_t SV = 1, TB = 2, RR = 4, CR = 8, UF = 16, EC = 32, DT = 64;

struct AcsDatapath : ::testing::Test {
  std::unique_ptr<Fabric> f = make_fabric(kAcsTopology);
  void SetUp() override {
    for (const char* e : {"epA", "epB", "epD", "epE", "epF"}) bus_master(*f, e);
  }
  Sent write(const std::string& from, uint64_t addr, DmaOptions opt = {}) {
    return send(*f, from, TlpKind::MemWrite, addr, 64, opt);
  }
};
}  // namespace

TEST_F(AcsDatapath, SourceValidationBlocksSpoofedRequesterOnlyWhenSet) {
  DmaOptions spoof;
  spoof.spoof_requester = RequesterId::from_bdf(0x50, 0, 0);  // not below dpA
  Sent off = write("epA", 0x1000, spoof);
  EXPECT_EQ(off.verdict.outcome, Outcome::Delivered) << path_text(off);
  EXPECT_EQ(off.at(), "dram");

  set_acs(*f, "dpA", SV);
  Sent on = write("epA", 0x1000, spoof);
  EXPECT_EQ(on.verdict.outcome, Outcome::BlockedByAcs);
  EXPECT_EQ(on.verdict.acs_bit, AcsBit::SV);
  EXPECT_EQ(on.at(), "dpA");

  Sent honest = write("epA", 0x1000);  // its own id is inside [secondary, subordinate]
  EXPECT_EQ(honest.verdict.outcome, Outcome::Delivered);
}

TEST_F(AcsDatapath, TranslationBlockingStopsTranslatedAndTranslationRequestsOnlyWhenSet) {
  DmaOptions translated;
  translated.at = AddressType::Translated;
  EXPECT_EQ(write("epA", 0x2000, translated).verdict.outcome, Outcome::Delivered);

  set_acs(*f, "dpA", TB);
  Sent on = write("epA", 0x2000, translated);
  EXPECT_EQ(on.verdict.outcome, Outcome::BlockedByAcs);
  EXPECT_EQ(on.verdict.acs_bit, AcsBit::TB);
  EXPECT_EQ(on.at(), "dpA");

  DmaOptions request;
  request.at = AddressType::TranslationRequest;
  EXPECT_EQ(write("epA", 0x2000, request).verdict.acs_bit, AcsBit::TB);
  EXPECT_EQ(write("epA", 0x2000).verdict.outcome, Outcome::Delivered);  // untranslated passes
}

TEST_F(AcsDatapath, RequestRedirectSendsPeerWritesUpstream) {
  const uint64_t b = bar(*f, "epB", 0);
  Sent direct = write("epA", b);
  EXPECT_EQ(direct.verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(direct.at(), "epB.f0");
  EXPECT_FALSE(direct.passed("sw0.up")) << path_text(direct);
  EXPECT_FALSE(direct.passed("rc0.host"));

  set_acs(*f, "dpA", RR);
  set_acs(*f, "rp0", UF);  // so the redirected TLP climbs to the host bridge
  Sent redirected = write("epA", b);
  EXPECT_EQ(redirected.verdict.outcome, Outcome::Redirected) << path_text(redirected);
  EXPECT_EQ(redirected.verdict.acs_bit, AcsBit::RR);
  EXPECT_EQ(redirected.at(), "dpA");
  EXPECT_TRUE(redirected.passed("rc0.host")) << path_text(redirected);
  EXPECT_EQ(redirected.terminal.outcome, Outcome::Delivered);
  EXPECT_EQ(hops().name(redirected.terminal.port), "epB.f0");
  EXPECT_GT(redirected.latency, direct.latency);  // two more link crossings and the root port
}

TEST_F(AcsDatapath, UpstreamForwardingAtRootPortDecidesWhetherRedirectReachesHost) {
  const uint64_t b = bar(*f, "epB", 0);
  set_acs(*f, "dpA", RR);
  Sent reflected = write("epA", b);  // rp0 without UF reflects it back down
  EXPECT_TRUE(reflected.passed("rp0")) << path_text(reflected);
  EXPECT_FALSE(reflected.passed("rc0.host")) << path_text(reflected);
  EXPECT_EQ(reflected.terminal.outcome, Outcome::Delivered);

  set_acs(*f, "rp0", UF);
  Sent up = write("epA", b);
  EXPECT_TRUE(up.passed("rc0.host")) << path_text(up);
  EXPECT_EQ(up.terminal.outcome, Outcome::Delivered);
}

TEST_F(AcsDatapath, UpstreamForwardingAtSwitchDownstreamPort) {
  // epD -> epE under sw1; dpD redirects; the TLP comes up through dpC of sw0 and decodes back
  // below dpC itself.
  const uint64_t e = bar(*f, "epE", 0);
  set_acs(*f, "dpD", RR);
  Sent reflected = write("epD", e);
  EXPECT_TRUE(reflected.passed("dpC")) << path_text(reflected);
  EXPECT_FALSE(reflected.passed("sw0.up")) << path_text(reflected);
  EXPECT_EQ(reflected.redirect_bit, AcsBit::RR);

  set_acs(*f, "dpC", UF);
  Sent up = write("epD", e);
  EXPECT_TRUE(up.passed("sw0.up")) << path_text(up);
  EXPECT_EQ(up.terminal.outcome, Outcome::Delivered);
  EXPECT_EQ(hops().name(up.terminal.port), "epE.f0");
}

TEST_F(AcsDatapath, CompletionRedirectSendsPeerReadCompletionsUpstream) {
  const uint64_t b = bar(*f, "epB", 0);
  set_acs(*f, "rp0", UF);
  Sent direct = send(*f, "epA", TlpKind::MemRead, b, 64);
  EXPECT_EQ(direct.verdict.outcome, Outcome::Delivered);
  EXPECT_FALSE(direct.passed("rc0.host")) << path_text(direct);

  set_acs(*f, "dpB", CR);  // the completion enters the switch at dpB
  Sent redirected = send(*f, "epA", TlpKind::MemRead, b, 64);
  EXPECT_EQ(redirected.verdict.outcome, Outcome::Redirected) << path_text(redirected);
  EXPECT_EQ(redirected.verdict.acs_bit, AcsBit::CR);
  EXPECT_EQ(redirected.at(), "dpB");
  EXPECT_TRUE(redirected.passed("rc0.host")) << path_text(redirected);

  DmaOptions ro;
  ro.relaxed_ordering = true;  // CR leaves relaxed-ordering completions alone
  Sent relaxed = send(*f, "epA", TlpKind::MemRead, b, 64, ro);
  EXPECT_EQ(relaxed.verdict.outcome, Outcome::Delivered) << path_text(relaxed);
}

TEST_F(AcsDatapath, EgressControlBlocksOrRedirectsOnlyTheSelectedPeer) {
  const uint64_t b = bar(*f, "epB", 0);
  const unsigned port_b = fn(*f, "dpB").fn->port_number();
  set_acs(*f, "dpA", EC);
  set_egress_vector(*f, "dpA", 1u << port_b);
  Sent blocked = write("epA", b);
  EXPECT_EQ(blocked.verdict.outcome, Outcome::BlockedByAcs);
  EXPECT_EQ(blocked.verdict.acs_bit, AcsBit::EC);
  EXPECT_EQ(blocked.at(), "dpA");

  set_acs(*f, "dpA", EC | RR);
  Sent redirected = write("epA", b);
  EXPECT_EQ(redirected.verdict.outcome, Outcome::Redirected);
  EXPECT_EQ(redirected.verdict.acs_bit, AcsBit::EC);

  set_acs(*f, "dpA", EC);
  set_egress_vector(*f, "dpA", 1u << fn(*f, "dpC").fn->port_number());  // another peer only
  EXPECT_EQ(write("epA", b).verdict.outcome, Outcome::Delivered);
  Sent to_d = write("epA", bar(*f, "epD", 0));
  EXPECT_EQ(to_d.verdict.outcome, Outcome::BlockedByAcs) << path_text(to_d);
}

TEST_F(AcsDatapath, DirectTranslatedLetsTranslatedPeerRequestsBypassRedirect) {
  const uint64_t b = bar(*f, "epB", 0);
  DmaOptions translated;
  translated.at = AddressType::Translated;
  set_acs(*f, "dpA", RR);
  Sent redirected = write("epA", b, translated);
  EXPECT_EQ(redirected.verdict.outcome, Outcome::Redirected);
  EXPECT_EQ(redirected.verdict.acs_bit, AcsBit::RR);

  set_acs(*f, "dpA", RR | DT);
  Sent direct = write("epA", b, translated);
  EXPECT_EQ(direct.verdict.outcome, Outcome::Delivered) << path_text(direct);
  EXPECT_FALSE(direct.passed("sw0.up"));
  // DT applies to translated requests only
  EXPECT_EQ(write("epA", b).verdict.outcome, Outcome::Redirected);
}

TEST_F(AcsDatapath, RootPortToRootPortPeerRouting) {
  const uint64_t fbar = bar(*f, "epF", 0);
  Sent direct = write("epA", fbar);
  EXPECT_EQ(direct.verdict.outcome, Outcome::Delivered) << path_text(direct);
  EXPECT_TRUE(direct.passed("rp1"));
  EXPECT_FALSE(direct.passed("rc0.host")) << path_text(direct);

  set_acs(*f, "rp0", RR);
  Sent redirected = write("epA", fbar);
  EXPECT_EQ(redirected.verdict.outcome, Outcome::Redirected);
  EXPECT_EQ(redirected.at(), "rp0");
  EXPECT_TRUE(redirected.passed("rc0.host")) << path_text(redirected);
}

TEST(AcsRootComplex, WithoutP2PSupportPeerRequestsAreUnsupported) {
  std::string yaml = kAcsTopology;
  yaml.replace(yaml.find("p2p: true"), 9, "p2p: false");
  auto f = make_fabric(yaml);
  bus_master(*f, "epA");
  Sent s = send(*f, "epA", TlpKind::MemWrite, bar(*f, "epF", 0));
  EXPECT_EQ(s.verdict.outcome, Outcome::UnsupportedRequest) << path_text(s);
  // and a redirected one that reaches the host is refused there, not silently delivered
  set_acs(*f, "rp0", RR);
  Sent r = send(*f, "epA", TlpKind::MemWrite, bar(*f, "epF", 0));
  EXPECT_EQ(r.terminal.outcome, Outcome::UnsupportedRequest) << path_text(r);
  EXPECT_EQ(r.at(), "rc0.host");
  // DMA to memory is unaffected
  EXPECT_EQ(send(*f, "epA", TlpKind::MemWrite, 0x1000).verdict.outcome, Outcome::Delivered);
}
