import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  poweredByHeader: false,
  // `next dev` would otherwise write an AGENTS.md into this folder of the
  // Portcullis repository.
  agentRules: false,
  experimental: {
    agentUpgrade: false,
  },
};

export default nextConfig;
