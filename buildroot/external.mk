include $(sort $(wildcard $(BR2_EXTERNAL_OJSCOG_PATH)/package/*/*.mk))
