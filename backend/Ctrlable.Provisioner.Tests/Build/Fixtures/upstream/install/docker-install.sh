#!/usr/bin/env bash
# Test fixture (see ../README.md): raw prompts that abort an unattended install at EOF unless answered.
# shellcheck disable=SC1091,SC2154
source /dev/stdin <<<"$FUNCTIONS_FILE_PATH"
color
catch_errors
setting_up_container
network_check
update_os

msg_info "Installing Docker"
mkdir -p "$ROOT/opt"
echo "27.3.1" >"$ROOT/root/.docker"
msg_ok "Installed Docker"

read -r -p "${TAB3}Would you like to add Portainer? <y/N> " prompt
if [[ ${prompt,,} =~ ^(y|yes)$ ]]; then
  echo "portainer-ce" >"$ROOT/opt/portainer"
fi
read -r -p "${TAB3}Would you like to add the Portainer Agent? <y/N> " prompt
if [[ ${prompt,,} =~ ^(y|yes)$ ]]; then
  echo "portainer-agent" >"$ROOT/opt/portainer-agent"
fi
read -r -p "${TAB3}Expose Docker TCP socket (insecure)? <n/l/a>: " socket_prompt
if [[ ${socket_prompt,,} =~ ^(l|a)$ ]]; then
  echo "tcp" >"$ROOT/opt/docker-tcp"
fi

motd_ssh
customize
cleanup_lxc
