/* Loadable modules (include/linux/module.h, moduleparam.h). A module's code is linked into the
 * simulator; module_init/module_exit record its entry points under KBUILD_MODNAME (set by the
 * build, as Kbuild does) and the co-simulated kernel calls them when the module is loaded and
 * unloaded (Kernel::load_module / unload_module, or `modprobe` in a scenario). */
#ifndef _LINUX_MODULE_H
#define _LINUX_MODULE_H

#include <linux/compiler.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/types.h>

#ifndef KBUILD_MODNAME
#error "KBUILD_MODNAME must be defined by the build (cosim_kernel_module() in CMake)"
#endif

struct module {
	const char *name;
};

static struct module __cosim_this_module __attribute__((unused)) = { KBUILD_MODNAME };
#define THIS_MODULE (&__cosim_this_module)

#ifdef __cplusplus
extern "C" {
#endif
void cosim_register_module_init(const char *module, int (*init)(void));
void cosim_register_module_exit(const char *module, void (*exit)(void));
void cosim_register_module_info(const char *module, const char *tag, const char *value);
void cosim_register_module_param(const char *module, const char *name, const char *type, void *arg,
				 unsigned int perm);
bool try_module_get(struct module *module);
void module_put(struct module *module);
#ifdef __cplusplus
}
#endif

#define __COSIM_CAT2(a, b) a##b
#define __COSIM_CAT(a, b) __COSIM_CAT2(a, b)
#define __COSIM_UNIQUE(prefix) __COSIM_CAT(prefix, __LINE__)

#define module_init(initfn) \
	__attribute__((constructor)) static void __cosim_module_init_reg(void) \
	{ \
		int (*fn)(void) = initfn; /* the type Linux requires */ \
		cosim_register_module_init(KBUILD_MODNAME, fn); \
	}
#define module_exit(exitfn) \
	__attribute__((constructor)) static void __cosim_module_exit_reg(void) \
	{ \
		void (*fn)(void) = exitfn; \
		cosim_register_module_exit(KBUILD_MODNAME, fn); \
	}

#define __COSIM_MODINFO(tag, value) \
	__attribute__((constructor)) static void __COSIM_UNIQUE(__cosim_modinfo_)(void) \
	{ \
		cosim_register_module_info(KBUILD_MODNAME, tag, value); \
	}
#define MODULE_LICENSE(x) __COSIM_MODINFO("license", x)
#define MODULE_AUTHOR(x) __COSIM_MODINFO("author", x)
#define MODULE_DESCRIPTION(x) __COSIM_MODINFO("description", x)
#define MODULE_VERSION(x) __COSIM_MODINFO("version", x)
#define MODULE_ALIAS(x) __COSIM_MODINFO("alias", x)
#define MODULE_SOFTDEP(x) __COSIM_MODINFO("softdep", x)
#define MODULE_IMPORT_NS(ns) __COSIM_MODINFO("import_ns", #ns)
#define MODULE_DEVICE_TABLE(type, name) /* the ID table is matched at driver registration */

#define EXPORT_SYMBOL(sym)
#define EXPORT_SYMBOL_GPL(sym)
#define EXPORT_SYMBOL_NS_GPL(sym, ns)

/* module_param(name, type, perm): bool, int, uint, long, ulong, charp. Values come from the load
 * command line ("name=value"), before module_init runs. */
#define __cosim_module_param(name, value, type_name, perm) \
	__attribute__((constructor)) static void __COSIM_CAT(__cosim_param_, name)(void) \
	{ \
		cosim_register_module_param(KBUILD_MODNAME, #name, type_name, &(value), perm); \
	}
/* The type is stringified where it is an argument: passed on to another macro first, `bool`
 * would expand to stdbool.h's _Bool. */
#define module_param_named(name, value, type, perm) __cosim_module_param(name, value, #type, perm)
#define module_param(name, type, perm) __cosim_module_param(name, name, #type, perm)
#define MODULE_PARM_DESC(name, desc) __COSIM_MODINFO("parmdesc", #name ":" desc)

/* module_driver (include/linux/device/driver.h) */
#define module_driver(__driver, __register, __unregister, ...) \
	static int __init __driver##_init(void) { return __register(&(__driver), ##__VA_ARGS__); } \
	module_init(__driver##_init); \
	static void __exit __driver##_exit(void) { __unregister(&(__driver), ##__VA_ARGS__); } \
	module_exit(__driver##_exit);

#endif /* _LINUX_MODULE_H */
