/* Section annotations (include/linux/init.h): no separate init sections in the co-simulated kernel. */
#ifndef _LINUX_INIT_H
#define _LINUX_INIT_H

#include <linux/compiler.h>

#define __init
#define __exit
#define __initdata
#define __exitdata
#define __devinit
#define __devexit

#endif /* _LINUX_INIT_H */
