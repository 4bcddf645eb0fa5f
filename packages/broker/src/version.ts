/** The StreamBus version this build reports (`streambus --version`, `/health`). Kept equal to package.json by a test. */
export const streambusVersion = '0.2.0';
