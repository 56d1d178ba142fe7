// Renovate's configuration for pipelines/renovate.yml: every repository of
// the project that has a renovate.json (each library made from this template),
// on Azure DevOps, with the pipeline's job token (docs/fleet.md).
module.exports = {
  platform: "azure",
  endpoint: process.env.SYSTEM_COLLECTIONURI,
  token: process.env.SYSTEM_ACCESSTOKEN,
  autodiscover: true,
  requireConfig: "required",
  onboarding: false,
  gitAuthor: "Renovate Bot <bot@renovateapp.com>",
  // The libraries' renovate.json look Python packages up in the feed, which
  // takes the same token. Any user name goes with it.
  hostRules: [
    {
      matchHost: "https://pkgs.dev.azure.com",
      hostType: "pypi",
      username: "renovate",
      password: process.env.SYSTEM_ACCESSTOKEN,
    },
  ],
};
