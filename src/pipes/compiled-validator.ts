import { getMetadataStorage, ValidationTypes, type ValidationArguments, type ValidatorConstraintInterface } from 'class-validator';

/**
 * A DTO's class-validator rules read once into a flat list of checks, so a hot route (the HTTP
 * publish, up to 1,000 items a batch) answers "valid?" without class-transformer's instance and
 * class-validator's per-call metadata walk, error objects and messages. It is a verdict only:
 * a body it refuses goes through class-validator itself for the contract's `details`, and one
 * it would wrongly accept is what test/unit/compiled-validator.spec.ts looks for against
 * `validateSync`. The rules stay where they are (the DTO's decorators); nothing is restated.
 *
 * Reads class-validator's exported metadata storage; a DTO using what this does not model
 * (nested or async validation, groups, `always`, `validateIf`, `@IsDefined`) compiles to
 * `undefined` and its callers keep class-validator.
 */
export type CompiledValidator = (value: unknown) => boolean;

interface Check {
  readonly constraint: ValidatorConstraintInterface;
  readonly each: boolean;
  readonly args: ValidationArguments;
}

interface PropertyChecks {
  readonly name: string;
  /** `@IsOptional`: null or undefined skips the checks. */
  readonly optional: boolean;
  readonly checks: readonly Check[];
}

export function compileValidator(dto: new () => object): CompiledValidator | undefined {
  const storage = getMetadataStorage();
  const metadatas = storage.getTargetValidationMetadatas(dto, '', false, false);
  const byProperty = new Map<string, { optional: boolean; checks: Check[] }>();
  for (const metadata of metadatas) {
    if (metadata.groups?.length || metadata.always !== undefined || metadata.validateIf) return undefined;
    let property = byProperty.get(metadata.propertyName);
    if (!property) byProperty.set(metadata.propertyName, (property = { optional: false, checks: [] }));
    switch (metadata.type) {
      case ValidationTypes.CONDITIONAL_VALIDATION:
        // Only @IsOptional's own condition is modelled (its name says so).
        if (metadata.name !== 'isOptional') return undefined;
        property.optional = true;
        break;
      case ValidationTypes.WHITELIST:
        break;
      case ValidationTypes.CUSTOM_VALIDATION:
        for (const constraint of storage.getTargetValidatorConstraints(metadata.constraintCls)) {
          if (constraint.async) return undefined;
          property.checks.push({
            constraint: constraint.instance,
            each: metadata.each,
            args: { targetName: dto.name, property: metadata.propertyName, object: {}, value: undefined, constraints: metadata.constraints },
          });
        }
        break;
      default:
        return undefined;
    }
  }
  const properties: PropertyChecks[] = [...byProperty].map(([name, p]) => ({ name, ...p }));
  const known = new Set(byProperty.keys());
  return (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    const object = value as Record<string, unknown>;
    // forbidNonWhitelisted: every own key needs a rule.
    for (const key in object) if (!Object.hasOwn(object, key) || !known.has(key)) return false;
    for (const property of properties) {
      const field = object[property.name];
      if (property.optional && (field === undefined || field === null)) continue;
      for (const check of property.checks) if (!passes(check, object, field)) return false;
    }
    return true;
  };
}

function passes(check: Check, object: object, value: unknown): boolean {
  const args = check.args as { object: object; value: unknown };
  args.object = object;
  args.value = value;
  if (!check.each || !Array.isArray(value)) return check.constraint.validate(value, check.args) === true;
  for (const item of value) if (check.constraint.validate(item, check.args) !== true) return false;
  return true;
}
