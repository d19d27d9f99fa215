// eventfds in the co-simulated kernel: the user-space side (eventfd, read, write with Linux's
// errnos) and the driver side (eventfd_ctx_fdget / eventfd_signal / eventfd_ctx_put), including a
// device interrupt whose handler signals a reader that waits in simulated time.
#include <cstring>

#include "kernel/eventfd.h"
#include "kernel_fixture.h"
#include "kernel/kapi.h"

namespace pciesim::test {
namespace {

struct KernelEventfd : KernelFixture {
  void SetUp() override { boot(); }
};

TEST_F(KernelEventfd, CounterSemanticsAndErrnosAreLinuxs) {
  const int fd = cosim::eventfd_create(*k, 3, 0);
  EXPECT_EQ(fd, 3) << "the lowest free descriptor after stdin/out/err";
  uint64_t v = 0;
  EXPECT_EQ(cosim::eventfd_read(*k, fd, v), 0);
  EXPECT_EQ(v, 3u);
  EXPECT_EQ(cosim::eventfd_read(*k, fd, v), -EAGAIN) << "empty, and no task to block in";
  EXPECT_EQ(cosim::eventfd_write(*k, fd, ~0ull), -EINVAL);
  EXPECT_EQ(cosim::eventfd_write(*k, fd, ~0ull - 1), 0);
  EXPECT_EQ(cosim::eventfd_write(*k, fd, 1), -EAGAIN) << "would reach ULLONG_MAX";
  const int sem = cosim::eventfd_create(*k, 2, EFD_SEMAPHORE | EFD_NONBLOCK);
  EXPECT_EQ(cosim::eventfd_read(*k, sem, v), 0);
  EXPECT_EQ(v, 1u);
  EXPECT_EQ(cosim::eventfd_read(*k, sem, v), 0);
  EXPECT_EQ(cosim::eventfd_read(*k, sem, v), -EAGAIN);
  EXPECT_EQ(cosim::eventfd_create(*k, 0, 0x1000), -EINVAL);
  EXPECT_EQ(cosim::eventfd_read(*k, 99, v), -EBADF);
  EXPECT_EQ(k->files().close(sem), 0);
  EXPECT_EQ(k->files().close(sem), -EBADF);
}

TEST_F(KernelEventfd, DriverSideGetSignalPut) {
  const int fd = cosim::eventfd_create(*k, 0, EFD_NONBLOCK);
  k->run("driver", [&] {
    EXPECT_EQ(PTR_ERR(eventfd_ctx_fdget(42)), -EBADF);
    eventfd_ctx* ctx = eventfd_ctx_fdget(fd);
    ASSERT_FALSE(IS_ERR(ctx));
    EXPECT_EQ(eventfd_signal(ctx, 2), 2u);
    EXPECT_EQ(k->files().close(fd), 0);  // user space closed it; the driver's reference keeps it
    EXPECT_EQ(eventfd_signal(ctx, 1), 1u);
    EXPECT_EQ(ctx->count, 3u);
    eventfd_ctx_put(ctx);
  });
}

eventfd_ctx* g_trigger = nullptr;
irqreturn_t signal_user(int, void*) {
  eventfd_signal(g_trigger, 1);
  return IRQ_HANDLED;
}

TEST_F(KernelEventfd, AnInterruptHandlerWakesAReaderBlockedInSimulatedTime) {
  cosim::PciDev& b = dev("epB");
  const int fd = cosim::eventfd_create(*k, 0, 0);
  uint64_t got = 0, woke_ns = 0;
  std::pair<uint64_t, uint32_t> msg;
  k->run("setup", [&] {
    ASSERT_EQ(pci_enable_device(b.dev.get()), 0);
    pci_set_master(b.dev.get());
    ASSERT_EQ(pci_alloc_irq_vectors(b.dev.get(), 1, 1, PCI_IRQ_MSI), 1);
    g_trigger = eventfd_ctx_fdget(fd);
    ASSERT_EQ(request_irq(static_cast<unsigned>(pci_irq_vector(b.dev.get(), 0)), signal_user, 0, "epB", &b), 0);
    msg = b.messages[0];
  });
  k->run("user", [&] {
    // A second task plays the device: 5 us from now it sends its MSI.
    k->scheduler().spawn_daemon("device", [&] {
      k->scheduler().sleep(sc_core::sc_time(5, sc_core::SC_US), "device time");
      std::vector<uint8_t> data(4);
      std::memcpy(data.data(), &msg.second, 4);
      send(*f, "epB", TlpKind::MemWrite, msg.first, 4, {}, data);
    });
    const uint64_t t0 = k->now_ns();
    ASSERT_EQ(cosim::eventfd_read(*k, fd, got), 0);  // blocks until the handler signals
    woke_ns = k->now_ns() - t0;
  });
  EXPECT_EQ(got, 1u);
  EXPECT_GE(woke_ns, 5000u);
  k->run("teardown", [&] { eventfd_ctx_put(g_trigger); });
}

}  // namespace
}  // namespace pciesim::test
