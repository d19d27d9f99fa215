/* Register field helpers (include/linux/bitfield.h): the mask must be a constant. */
#ifndef _LINUX_BITFIELD_H
#define _LINUX_BITFIELD_H

#include <linux/bits.h>

#define __bf_shf(x) (__builtin_ffsll(x) - 1)
#define FIELD_PREP(_mask, _val) ((__typeof__(_mask))(((__typeof__(_mask))(_val) << __bf_shf(_mask)) & (_mask)))
#define FIELD_GET(_mask, _reg) ((__typeof__(_mask))(((_reg) & (_mask)) >> __bf_shf(_mask)))
#define FIELD_FIT(_mask, _val) (!((((__typeof__(_mask))(_val)) << __bf_shf(_mask)) & ~(_mask)))

#endif /* _LINUX_BITFIELD_H */
