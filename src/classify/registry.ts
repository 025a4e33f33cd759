import type { ClassifierConfig } from './config.js';
import { customDetectors } from './detectors/custom.js';
import { nationalIdDetectors } from './detectors/national-ids.js';
import { secretDetectors } from './detectors/secrets.js';
import {
  creditCardDetector, cryptoDetector, emailDetector, ibanDetector, ipDetector, itinDetector, macDetector, phoneDetector,
  ssnDetector, urlDetector, usBankNumberDetector, usDriverLicenseDetector, usPassportDetector,
} from './detectors/structured.js';
import { peopleDetectors } from './detectors/people.js';
import { healthDetectors } from './detectors/health.js';
import type { Detector } from './scan-context.js';

/** Every built-in detector plus the configured ones, minus the disabled. Built once per classifier. */
export function buildRegistry(cfg: ClassifierConfig): Detector[] {
  const all: Detector[] = [
    emailDetector, phoneDetector(cfg.phoneRegions), creditCardDetector, ibanDetector, ssnDetector, itinDetector,
    usPassportDetector, usDriverLicenseDetector, usBankNumberDetector, ipDetector, macDetector, urlDetector, cryptoDetector,
    ...nationalIdDetectors, ...secretDetectors, ...peopleDetectors(), ...healthDetectors(), ...customDetectors(cfg),
  ];
  const off = new Set(cfg.disabled);
  return all.filter((d) => !off.has(d.id) && !d.entities.every((e) => off.has(e)));
}
