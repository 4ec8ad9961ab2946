################################################################################
#
# ojscog-sonic
#
################################################################################

OJSCOG_SONIC_VERSION = 0.2.0
OJSCOG_SONIC_SOURCE = sonic_$(OJSCOG_SONIC_VERSION).orig.tar.gz
OJSCOG_SONIC_SITE = http://deb.debian.org/debian/pool/main/s/sonic
OJSCOG_SONIC_LICENSE = Apache-2.0
OJSCOG_SONIC_LICENSE_FILES = COPYING
OJSCOG_SONIC_INSTALL_STAGING = YES

# One C file: a shared library with the soname Debian gives it (libsonic.so.0).
define OJSCOG_SONIC_BUILD_CMDS
	$(TARGET_CC) $(TARGET_CFLAGS) -fPIC -shared -Wl,-soname,libsonic.so.0 \
		-o $(@D)/libsonic.so.0.2.0 $(@D)/sonic.c -lm
endef

define OJSCOG_SONIC_INSTALL_STAGING_CMDS
	$(INSTALL) -D -m 0644 $(@D)/sonic.h $(STAGING_DIR)/usr/include/sonic.h
	$(INSTALL) -D -m 0755 $(@D)/libsonic.so.0.2.0 $(STAGING_DIR)/usr/lib/libsonic.so.0.2.0
	ln -sf libsonic.so.0.2.0 $(STAGING_DIR)/usr/lib/libsonic.so.0
	ln -sf libsonic.so.0 $(STAGING_DIR)/usr/lib/libsonic.so
endef

define OJSCOG_SONIC_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 $(@D)/libsonic.so.0.2.0 $(TARGET_DIR)/usr/lib/libsonic.so.0.2.0
	ln -sf libsonic.so.0.2.0 $(TARGET_DIR)/usr/lib/libsonic.so.0
endef

$(eval $(generic-package))
