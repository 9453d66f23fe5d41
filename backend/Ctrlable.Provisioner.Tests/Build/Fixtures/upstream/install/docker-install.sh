#!/usr/bin/env bash
# Test fixture (see ../README.md): shaped like install/docker-install.sh at community-scripts 2026-05-30: raw
# prompts that abort an unattended install at EOF unless answered. It records no app version (upstream installs
# whatever get.docker.com serves).
# shellcheck disable=SC1091,SC2154
source /dev/stdin <<<"$FUNCTIONS_FILE_PATH"
color
verb_ip6
catch_errors
setting_up_container
network_check
update_os

DOCKER_LATEST_VERSION=$(get_latest_github_release "moby/moby")
PORTAINER_LATEST_VERSION=$(get_latest_github_release "portainer/portainer")
PORTAINER_AGENT_LATEST_VERSION=$(get_latest_github_release "portainer/agent")

msg_info "Installing Docker $DOCKER_LATEST_VERSION (with Compose, Buildx)"
mkdir -p "$ROOT/etc/docker" "$ROOT/opt"
printf '{\n  "log-driver": "journald"\n}\n' >"$ROOT/etc/docker/daemon.json"
msg_ok "Installed Docker $DOCKER_LATEST_VERSION"

read -r -p "${TAB3}Would you like to add Portainer (UI)? <y/N> " prompt
if [[ ${prompt,,} =~ ^(y|yes)$ ]]; then
  msg_info "Installing Portainer $PORTAINER_LATEST_VERSION"
  echo "portainer-ce" >"$ROOT/opt/portainer"
  msg_ok "Installed Portainer $PORTAINER_LATEST_VERSION"
else
  read -r -p "${TAB3}Would you like to install the Portainer Agent (for remote management)? <y/N> " prompt_agent
  if [[ ${prompt_agent,,} =~ ^(y|yes)$ ]]; then
    msg_info "Installing Portainer Agent $PORTAINER_AGENT_LATEST_VERSION"
    echo "portainer-agent" >"$ROOT/opt/portainer-agent"
    msg_ok "Installed Portainer Agent $PORTAINER_AGENT_LATEST_VERSION"
  fi
fi

read -r -p "${TAB3}Expose Docker TCP socket (insecure) ? [n = No, l = Local only (127.0.0.1), a = All interfaces (0.0.0.0)] <n/l/a>: " socket_choice
case "${socket_choice,,}" in
l) socket="tcp://127.0.0.1:2375" ;;
a) socket="tcp://0.0.0.0:2375" ;;
*) socket="" ;;
esac
if [[ -n "$socket" ]]; then
  echo "$socket" >"$ROOT/opt/docker-tcp"
fi

motd_ssh
customize
cleanup_lxc
