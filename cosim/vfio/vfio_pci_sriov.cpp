// vfio_pci_core's SR-IOV support (Linux 6.1 drivers/vfio/pci/vfio_pci_core.c): a PF driven by
// vfio-pci may create VFs (vfio_pci_core_sriov_configure, with vfio-pci's enable_sriov), those
// VFs are captured for the PF's driver (a bus notifier sets their driver_override), and user
// space proves it cooperates with the PF's user through a shared VF token: a UUID the PF's user
// sets with VFIO_DEVICE_FEATURE_PCI_VF_TOKEN and the VF's user appends to the device name given
// to VFIO_GROUP_GET_DEVICE_FD ("0000:01:10.0 vf_token=<uuid>", vfio_pci_core_match).
//
// The rules (vfio_pci_validate_vf_token), with the errno and message each case gets:
//   VF, PF not vfio-pci:   no token 0; a token -EINVAL "VF token incorrectly provided, PF not bound to vfio-pci"
//   VF, PF vfio-pci:       no token -EACCES "VF token required to access device";
//                          wrong token -EACCES "Incorrect VF token provided for device"
//   PF with VF fds open:   the same two -EACCES cases; the right token 0
//   PF without VF users:   a token sets the PF's token; none is fine
//   neither PF nor VF:     a token -EINVAL "VF token incorrectly provided, not a PF or VF"
// Linux rate-limits these messages (pci_info_ratelimited); every one is logged here.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "vfio/vfio_pci_private.h"
#include "kernel/kapi.h"
#include <linux/notifier.h>
#include <linux/uuid.h>

// vdev->vf_token of a PF (6.1 struct vfio_pci_vf_token: lock, uuid, users). Linux keeps the bus
// notifier in vfio_pci_core_device; it lives here with the token, which a PF alone has. No lock:
// one kernel task runs at a time.
struct vfio_pci_vf_token {
  uuid_t uuid;
  int users = 0;  // open VF devices whose PF this is (finish_enable ++, close_device --)
  notifier_block nb{};
  vfio_pci_core_device* pf = nullptr;
};

namespace pciesim::cosim {

bool CoreDevice::is_virtfn() const { return pdev->is_virtfn; }
uint16_t CoreDevice::pci_vendor() const { return pdev->vendor; }
uint16_t CoreDevice::pci_device() const { return pdev->device; }
bool CoreDevice::no_command_memory() const { return pdev->no_command_memory; }

namespace {

// vfio_pci_sriov_pfs: PFs whose VFs vfio_pci_core_sriov_configure created (enable to disable).
std::vector<vfio_pci_core_device*>& sriov_pfs() {
  static std::vector<vfio_pci_core_device*> pfs;
  return pfs;
}

// vfio_pci_bus_notifier: a VF of this PF appearing gets the PF driver's name as driver_override,
// so vfio-pci (or the variant) binds it rather than a host VF driver; a VF that binds another
// driver anyway is reported.
int bus_notifier(notifier_block* nb, unsigned long action, void* data) {
  vfio_pci_core_device* vdev = container_of(nb, vfio_pci_vf_token, nb)->pf;
  pci_dev* pdev = to_pci_dev(static_cast<device*>(data));
  pci_dev* physfn = pci_physfn(pdev);
  if (action == BUS_NOTIFY_ADD_DEVICE && pdev->is_virtfn && physfn == vdev->pdev) {
    pci_info(vdev->pdev, "Captured SR-IOV VF %s driver_override\n", pci_name(pdev));
    Kernel::current().pci().set_driver_override(PciCore::of(pdev), vdev->vdev.ops->name);
  } else if (action == BUS_NOTIFY_BOUND_DRIVER && pdev->is_virtfn && physfn == vdev->pdev) {
    pci_driver* drv = pdev->driver;
    if (drv && drv != vdev->pdev->driver)
      pci_warn(vdev->pdev, "VF %s bound to driver %s while PF bound to driver %s\n", pci_name(pdev), drv->name,
               vdev->pdev->driver->name);
  }
  return 0;
}

// vfio_pci_validate_vf_token (6.1): the rules in this file's header.
int validate_vf_token(vfio_pci_core_device* vdev, bool vf_token, const uuid_t* uuid) {
  if (vdev->pdev->is_virtfn) {
    vfio_pci_core_device* pf_vdev = vdev->sriov_pf_core_dev;
    if (!pf_vdev) {
      if (!vf_token) return 0;  // PF is not vfio-pci, no VF token
      pci_info(vdev->pdev, "VF token incorrectly provided, PF not bound to vfio-pci\n");
      return -EINVAL;
    }
    if (!vf_token) {
      pci_info(vdev->pdev, "VF token required to access device\n");
      return -EACCES;
    }
    if (!uuid_equal(uuid, &pf_vdev->vf_token->uuid)) {
      pci_info(vdev->pdev, "Incorrect VF token provided for device\n");
      return -EACCES;
    }
  } else if (vdev->vf_token) {
    if (vdev->vf_token->users) {
      if (!vf_token) {
        pci_info(vdev->pdev, "VF token required to access device\n");
        return -EACCES;
      }
      if (!uuid_equal(uuid, &vdev->vf_token->uuid)) {
        pci_info(vdev->pdev, "Incorrect VF token provided for device\n");
        return -EACCES;
      }
    } else if (vf_token) {
      uuid_copy(&vdev->vf_token->uuid, uuid);  // no VF in use: the PF's user sets the token
    }
  } else if (vf_token) {
    pci_info(vdev->pdev, "VF token incorrectly provided, not a PF or VF\n");
    return -EINVAL;
  }
  return 0;
}

}  // namespace

// vfio_pci_vf_init: a VF created by a vfio-pci PF finds that PF now (it cannot change until the
// VF's driver goes: pci_disable_sriov removes the VFs first); a PF (is_physfn: it has the SR-IOV
// capability) gets a fresh random token and watches the bus for its VFs.
int vf_init(vfio_pci_core_device* vdev) {
  pci_dev* pdev = vdev->pdev;
  if (pdev->is_virtfn) {
    pci_dev* physfn = pci_physfn(pdev);
    for (vfio_pci_core_device* cur : sriov_pfs())
      if (cur->pdev == physfn) {
        vdev->sriov_pf_core_dev = cur;
        break;
      }
    return 0;
  }
  if (!pdev->is_physfn) return 0;  // not an SR-IOV PF
  auto* token = new vfio_pci_vf_token;
  uuid_gen(&token->uuid);
  token->pf = vdev;
  token->nb.notifier_call = bus_notifier;
  const int rc = bus_register_notifier(&pci_bus_type, &token->nb);
  if (rc) {
    delete token;
    return rc;
  }
  vdev->vf_token = token;
  return 0;
}

// vfio_pci_vf_uninit
void vf_uninit(vfio_pci_core_device* vdev) {
  if (!vdev->vf_token) return;
  bus_unregister_notifier(&pci_bus_type, &vdev->vf_token->nb);
  WARN_ON(vdev->vf_token->users);
  delete vdev->vf_token;
  vdev->vf_token = nullptr;
}

void vf_token_user_add(vfio_pci_core_device* vdev, int delta) {
  vfio_pci_core_device* pf_vdev = vdev->sriov_pf_core_dev;
  if (!pf_vdev) return;
  WARN_ON(delta < 0 && !pf_vdev->vf_token->users);
  pf_vdev->vf_token->users += delta;
}

}  // namespace pciesim::cosim

using namespace pciesim::cosim;

// vfio_pci_core_sriov_configure (6.1): only one enable per PF until the disable (the PF joins
// vfio_pci_sriov_pfs first, so the VFs' vf_init finds it); the PF is put in D0 first.
extern "C" int vfio_pci_core_sriov_configure(struct vfio_pci_core_device* vdev, int nr_virtfn) {
  pci_dev* pdev = vdev->pdev;
  auto& pfs = sriov_pfs();
  int ret = 0;
  if (nr_virtfn) {
    if (vdev->sriov_pfs_listed) return -EINVAL;
    pfs.push_back(vdev);
    vdev->sriov_pfs_listed = true;
    pci_set_power_state(pdev, PCI_D0);  // vfio_pci_set_power_state under memory_lock
    ret = pci_enable_sriov(pdev, nr_virtfn);
    if (!ret) return nr_virtfn;
  } else if (pci_num_vf(pdev)) {
    pci_disable_sriov(pdev);
  }
  pfs.erase(std::remove(pfs.begin(), pfs.end(), vdev), pfs.end());  // out_del: list_del_init
  vdev->sriov_pfs_listed = false;
  return ret;
}

// vfio_pci_core_ioctl_feature: the PCI core's features. Only the VF token is modelled; the
// low-power features of 6.1 (LOW_POWER_ENTRY, _WITH_WAKEUP, EXIT) answer -ENOTTY here.
extern "C" int vfio_pci_core_ioctl_feature(struct vfio_device* device, u32 flags, void __user* arg, size_t argsz) {
  switch (flags & VFIO_DEVICE_FEATURE_MASK) {
    case VFIO_DEVICE_FEATURE_PCI_VF_TOKEN: {  // vfio_pci_core_feature_token
      vfio_pci_core_device* vdev = core_of(device);
      if (!vdev->vf_token) return -ENOTTY;  // not a PF
      // vfio_check_feature(flags, argsz, SET, sizeof(uuid)): GET is refused (it would expose the
      // previous user's token); PROBE answers 0; without PROBE, SET and a whole UUID are needed.
      if ((flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET)) & ~u32{VFIO_DEVICE_FEATURE_SET}) return -EINVAL;
      if (flags & VFIO_DEVICE_FEATURE_PROBE) return 0;
      if (!(flags & VFIO_DEVICE_FEATURE_SET)) return -EINVAL;
      if (argsz < sizeof(uuid_t)) return -EINVAL;
      if (!arg) return -EFAULT;  // copy_from_user
      uuid_t uuid;
      std::memcpy(&uuid, arg, sizeof uuid);
      uuid_copy(&vdev->vf_token->uuid, &uuid);
      return 0;
    }
    default:
      return -ENOTTY;
  }
}

// vfio_pci_core_match (6.1): the device's name, then optionally options separated by spaces, of
// which "vf_token=<36-character UUID>" is the only one (once); then the token rules.
extern "C" int vfio_pci_core_match(struct vfio_device* core_vdev, char* buf) {
  vfio_pci_core_device* vdev = core_of(core_vdev);
  const char* name = pci_name(vdev->pdev);
  const size_t len = std::strlen(name);
  bool vf_token = false;
  uuid_t uuid{};
  if (std::strncmp(name, buf, len)) return 0;  // no match
  if (std::strlen(buf) > len) {
    buf += len;
    if (*buf != ' ') return 0;  // no match: non-whitespace after the name
    static const char kOpt[] = "vf_token=";
    while (*buf) {
      if (*buf == ' ') {
        ++buf;
        continue;
      }
      if (!vf_token && !std::strncmp(buf, kOpt, sizeof kOpt - 1)) {
        buf += sizeof kOpt - 1;
        if (std::strlen(buf) < UUID_STRING_LEN) return -EINVAL;
        const int ret = uuid_parse(buf, &uuid);
        if (ret) return ret;
        vf_token = true;
        buf += UUID_STRING_LEN;
      } else {
        return -EINVAL;  // unknown or duplicate option
      }
    }
  }
  const int ret = validate_vf_token(vdev, vf_token, &uuid);
  return ret ? ret : 1;
}
