package fhir

import "strings"

// member is one way a resource belongs to a patient's compartment: a search
// parameter and the element path it searches.
type member struct {
	Param string
	Path  []string
}

// patientCompartment is the Patient CompartmentDefinition of FHIR R4
// (compartmentdefinition-patient.html): for each resource type, the search
// parameters, and the elements behind them, whose reference to Patient/{id}
// puts a resource in that patient's compartment. Types not listed here are
// not in any patient's compartment (Practitioner, Organization, Medication …).
// Entries are "param" (element of the same name) or "param=element.path".
var patientCompartment = compile(map[string]string{
	"Account":                     "patient=subject subject",
	"AdverseEvent":                "subject",
	"AllergyIntolerance":          "patient recorder asserter",
	"Appointment":                 "actor=participant.actor",
	"AppointmentResponse":         "actor",
	"AuditEvent":                  "patient=entity.what",
	"Basic":                       "patient=subject author",
	"BodyStructure":               "patient",
	"CarePlan":                    "patient=subject performer=activity.detail.performer",
	"CareTeam":                    "patient=subject participant=participant.member",
	"ChargeItem":                  "patient=subject subject",
	"Claim":                       "patient payee=payee.party",
	"ClaimResponse":               "patient",
	"ClinicalImpression":          "patient=subject subject",
	"Communication":               "patient=subject subject sender recipient",
	"CommunicationRequest":        "subject sender recipient requester",
	"Composition":                 "patient=subject subject author attester=attester.party",
	"Condition":                   "patient=subject asserter",
	"Consent":                     "patient",
	"Coverage":                    "policy-holder=policyHolder subscriber beneficiary payor",
	"CoverageEligibilityRequest":  "patient",
	"CoverageEligibilityResponse": "patient",
	"DetectedIssue":               "patient",
	"DeviceRequest":               "patient=subject subject performer",
	"DeviceUseStatement":          "patient=subject subject",
	"DiagnosticReport":            "patient=subject subject",
	"DocumentManifest":            "patient=subject subject author recipient",
	"DocumentReference":           "patient=subject subject author",
	"Encounter":                   "patient=subject",
	"EnrollmentRequest":           "subject=candidate",
	"EpisodeOfCare":               "patient",
	"ExplanationOfBenefit":        "patient payee=payee.party",
	"FamilyMemberHistory":         "patient",
	"Flag":                        "patient=subject",
	"Goal":                        "patient=subject",
	"Group":                       "member=member.entity",
	"ImagingStudy":                "patient=subject",
	"Immunization":                "patient",
	"ImmunizationEvaluation":      "patient",
	"ImmunizationRecommendation":  "patient",
	"Invoice":                     "subject patient=subject recipient",
	"List":                        "patient=subject subject source",
	"MeasureReport":               "patient=subject",
	"Media":                       "patient=subject subject",
	"MedicationAdministration":    "patient=subject performer=performer.actor",
	"MedicationDispense":          "patient=subject subject receiver",
	"MedicationRequest":           "patient=subject subject",
	"MedicationStatement":         "patient=subject subject",
	"MolecularSequence":           "patient",
	"NutritionOrder":              "patient",
	"Observation":                 "patient=subject subject performer",
	"Patient":                     "link=link.other",
	"Person":                      "patient=link.target",
	"Procedure":                   "patient=subject performer=performer.actor",
	"Provenance":                  "patient=target agent=agent.who",
	"QuestionnaireResponse":       "patient=subject subject author",
	"RelatedPerson":               "patient",
	"RequestGroup":                "subject participant=action.participant",
	"ResearchSubject":             "individual",
	"RiskAssessment":              "patient=subject subject",
	"Schedule":                    "actor",
	"ServiceRequest":              "patient=subject subject performer",
	"Specimen":                    "patient=subject subject",
	"SupplyDelivery":              "patient",
	"SupplyRequest":               "subject=deliverTo",
	"VisionPrescription":          "patient",
})

func compile(table map[string]string) map[string][]member {
	out := make(map[string][]member, len(table))
	for typ, spec := range table {
		for _, f := range strings.Fields(spec) {
			param, path, ok := strings.Cut(f, "=")
			if !ok {
				path = param
			}
			out[typ] = append(out[typ], member{Param: param, Path: strings.Split(path, ".")})
		}
	}
	return out
}

// InPatientCompartmentType reports whether resources of type typ can belong
// to a patient's compartment. Patient itself does.
func InPatientCompartmentType(typ string) bool {
	_, ok := patientCompartment[typ]
	return ok
}

// PatientSearchParams returns the search parameters that tie a resource of
// type typ to a patient: "patient" where the type defines it, and the
// compartment's parameters. It is nil for types outside the compartment.
func PatientSearchParams(typ string) []string {
	ms := patientCompartment[typ]
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Param)
	}
	return out
}

// InPatientCompartment reports whether resource (decoded JSON) is in the
// compartment of Patient/patientID: the patient itself, or a resource whose
// compartment elements reference it. A resource of a type outside the
// compartment, or without a resourceType, is not.
func InPatientCompartment(resource map[string]any, patientID string) bool {
	typ, _ := resource["resourceType"].(string)
	if typ == "Patient" {
		if id, _ := resource["id"].(string); id == patientID {
			return true
		}
	}
	for _, m := range patientCompartment[typ] {
		if refersTo(resource, m.Path, patientID) {
			return true
		}
	}
	return false
}

// InOnlyPatientCompartment reports whether resource is in the compartment
// of Patient/patientID and in no other patient's: every Patient reference
// in its compartment elements names that patient. A resource written under
// one patient's authority must not land in another's record through a
// second reference (an Observation whose performer is the patient and
// whose subject is someone else).
func InOnlyPatientCompartment(resource map[string]any, patientID string) bool {
	if !InPatientCompartment(resource, patientID) {
		return false
	}
	typ, _ := resource["resourceType"].(string)
	for _, m := range patientCompartment[typ] {
		if refersToOtherPatient(resource, m.Path, patientID) {
			return false
		}
	}
	return true
}

// refersToOtherPatient follows path like refersTo and reports whether a
// Reference at its end points to a Patient other than Patient/patientID.
func refersToOtherPatient(v any, path []string, patientID string) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if refersToOtherPatient(e, path, patientID) {
				return true
			}
		}
		return false
	case map[string]any:
		if len(path) == 0 {
			ref, _ := x["reference"].(string)
			return isPatientReference(ref) && !IsPatientReference(ref, patientID)
		}
		return refersToOtherPatient(x[path[0]], path[1:], patientID)
	}
	return false
}

// isPatientReference reports whether ref names some Patient: "Patient/id",
// an URL ending in it, either with a /_history/v suffix.
func isPatientReference(ref string) bool {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	i := strings.LastIndexByte(ref, '/')
	if i < 0 {
		return false
	}
	typ := ref[:i]
	if j := strings.LastIndexByte(typ, '/'); j >= 0 {
		typ = typ[j+1:]
	}
	return typ == "Patient"
}

// refersTo follows path through objects and arrays and reports whether a
// Reference at its end points to Patient/patientID.
func refersTo(v any, path []string, patientID string) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if refersTo(e, path, patientID) {
				return true
			}
		}
		return false
	case map[string]any:
		if len(path) == 0 {
			ref, _ := x["reference"].(string)
			return IsPatientReference(ref, patientID)
		}
		return refersTo(x[path[0]], path[1:], patientID)
	}
	return false
}

// IsPatientReference reports whether ref (a reference or search value)
// names Patient/patientID: "Patient/123", an absolute URL ending in it, or
// either with a /_history/v suffix.
func IsPatientReference(ref, patientID string) bool {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	want := "Patient/" + patientID
	return ref == want || strings.HasSuffix(ref, "/"+want) && strings.Contains(ref, "://")
}
